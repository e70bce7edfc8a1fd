"""core_webservice_get_site_info: the recorded site's info, with this sandbox's URL and the token's functions."""

from __future__ import annotations

from typing import Any

from .. import fixture
from ..params import Params
from ..registry import Site, webservice
from ..service import IMPLEMENTED_FUNCTIONS

WS_VERSION = "2024100711.02"  # the site's $version: every function's version but the enrol_manual ones


@webservice("core_webservice_get_site_info")
def get_site_info(site: Site, params: Params) -> dict[str, Any]:
    functions = [f for f in IMPLEMENTED_FUNCTIONS if f in site.allowed_functions]
    info = dict(fixture.SITE_INFO)
    info.update(
        {
            "siteurl": site.url,
            "userpictureurl": site.user_picture("f1"),
            "functions": [{"name": f, "version": fixture.FUNCTION_VERSIONS.get(f, WS_VERSION)} for f in functions],
        }
    )
    return info
