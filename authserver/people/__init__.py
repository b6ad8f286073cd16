"""People and signing in: password hashing (``passwords``), the failed-attempt limiter that
throttles sign-ins and registrations across workers (``throttle``), and people's legacy API
tokens (``api_tokens``). Users and sessions are rows in ``models``; the pages are ``web``'s."""
