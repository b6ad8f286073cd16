"""Protected resources and their scopes: the registry of APIs this server issues tokens for,
by RFC 8707 resource indicator (``registry``), and the scope catalogue people read on the
consent page and the metadata publishes (``catalogue``)."""
