"""OpenID Connect on top of the OAuth server: who signed in, and signing out."""
