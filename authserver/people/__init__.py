"""People and signing in: password hashing (``passwords``), the failed-attempt limiter that
throttles sign-ins and registrations across workers (``throttle``), people's legacy API
tokens (``api_tokens``) and ending sign-ins (``sessions``). Users and sessions are rows in
``models``; the pages are ``web``'s."""
