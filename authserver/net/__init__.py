"""The network as the server meets it: what kind of host a URL names (``hosts``: loopback,
public) and fetching from a URL a stranger chose without being aimed inward (``fetch``).
Nothing here knows about clients or tokens."""
