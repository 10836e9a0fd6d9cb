"""The demo help-center page that shows the widget at work, and ``/`` pointing to it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

router = APIRouter(include_in_schema=False)

DEMO_PATH = "/demo"


@router.get("/")
async def index() -> RedirectResponse:
    return RedirectResponse(DEMO_PATH)


@router.get(DEMO_PATH, response_class=HTMLResponse)
async def demo(request: Request, hostile: bool = False) -> HTMLResponse:
    """``?hostile=1`` adds a stylesheet that attacks every element, to show the widget is sealed off."""
    ctx = request.app.state.web
    template = request.app.state.templates.get_template("demo.html")
    html = template.render(brand=ctx.settings.brand, hostile=hostile)
    return HTMLResponse(html)
