"""OAuth clients and how they come to exist: what a client may be (``metadata``, RFC 7591's
fields checked in one place), registering and changing one (``registry``), what a client that
registers itself may have (``policy``, the one scope rule), the initial access tokens that
gate registration (``registration_tokens``), and clients described by a metadata document at
their URL (``documents``). How a client authenticates is ``oauth``'s business."""
