"""``GET /``: a page that says what this server is, instead of a bare 404."""

from __future__ import annotations

from flask import Flask

from authserver.appstate import state


def test_home_page_names_the_issuer_and_links_metadata_and_account(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    issuer = state(app).settings.issuer
    assert f"<code>{issuer}</code>" in html
    assert 'href="/.well-known/oauth-authorization-server"' in html
    assert 'href="/login"' in html and 'href="/oauth/jwks"' in html
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert client.get(html.split('href="', 2)[1].split('"')[0]).status_code == 200  # the stylesheet is served
