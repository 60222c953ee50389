"""/docs and /redoc from files this service serves itself, so they work offline.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (a blank page at a venue with no
internet). The files come from the `fastapi-offline` package (Swagger UI: Apache 2.0,
ReDoc: MIT; see that package's licence), served under /static/apidocs.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/static/apidocs"
# Nothing from elsewhere, ever: ReDoc asks for its "by Redocly" logo from a CDN, which the
# browser then blocks without a request (the page hides the broken image). FastAPI's two
# pages start their library with an inline script; ReDoc styles inline and uses a worker.
POLICY = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'"
}


def install(app: FastAPI) -> None:
    """Mount the assets and add the two pages (the app is made with docs_url=None)."""
    app.mount(
        ASSETS,
        StaticFiles(directory=str(files("fastapi_offline") / "static")),
        name="apidocs",
    )
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            # No badge fetched from swagger.io's online validator.
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers.update(POLICY)
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title}: API",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers.update(POLICY)
        return page
