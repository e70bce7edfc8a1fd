"""core_course_get_courses_by_field: the site's courses, all of them or by one field."""

from __future__ import annotations

import json
from typing import Any

from ..errors import invalid_parameter, php_error
from ..params import Params, as_int
from ..registry import Site, webservice


@webservice("core_course_get_courses_by_field")
def get_courses_by_field(site: Site, params: Params) -> dict[str, list[Any]]:
    field, value = str(params.get("field", "")), str(params.get("value", ""))
    rows = site.db.execute("SELECT * FROM courses ORDER BY id").fetchall()
    if field == "":
        selected = rows
    elif field == "id":
        selected = [r for r in rows if r["id"] == as_int(value)]
    elif field == "ids":
        wanted = [as_int(v) for v in value.split(",") if v.strip()]
        if any(site.db.course(w) is None for w in wanted):
            # Recorded: Moodle 4.5 fails with a PHP Error (no errorcode) when one id does not exist.
            raise php_error('Attempt to assign property "contextvalidated" on null')
        selected = [r for r in rows if r["id"] in wanted]
    elif field == "shortname":
        selected = [r for r in rows if r["shortname"] == value]
    elif field == "idnumber":
        selected = [r for r in rows if r["idnumber"] and r["idnumber"] == value]
    elif field == "category":
        selected = [r for r in rows if json.loads(r["data"])["categoryid"] == as_int(value)]
    elif field == "sectionid":
        selected = []
    else:
        raise invalid_parameter()
    return {"courses": [json.loads(r["data"]) for r in selected], "warnings": []}
