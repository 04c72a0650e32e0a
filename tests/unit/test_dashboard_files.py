"""torus.dashboard: which paths it answers, the files it serves and how."""
import pytest

from torus import dashboard
from torus.http_wire import HttpError
from torus.web import endpoint_label


def test_paths_it_answers():
    assert dashboard.is_dashboard("") and dashboard.is_dashboard("ui")
    assert dashboard.is_dashboard("ui/static/app.js") and not dashboard.is_dashboard("uix")
    assert endpoint_label("ui/static/../../x") == "ui" and endpoint_label("") == "ui"


def test_page_names_every_file_with_one_version():
    status, answer, headers = dashboard.answer("", "GET", {})
    assert status == 200 and answer.content_type == "text/html; charset=utf-8"
    assert b"{{version}}" not in answer.body and ("Cache-Control", "no-cache") in headers
    for name in ("app.js", "api.js", "tree.js", "charts.js", "state.js", "dashboard.css",
                 "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"):
        assert name in dashboard.STATIC and ("/ui/static/%s?v=" % name).encode() in answer.body


def test_uplot_is_vendored_with_its_license():
    assert b"uPlot" in dashboard.STATIC["vendor/uPlot.iife.min.js"][0]
    assert b"MIT License" in dashboard.STATIC["vendor/uPlot.LICENSE"][0]
    assert dashboard.STATIC["vendor/VERSIONS"][0].startswith(b"uplot 1.6.")


@pytest.mark.parametrize("path", ["ui/static/../__init__.py", "ui/static/../../web.py",
                                  "ui/static/vendor/../../dashboard.py", "ui/static/",
                                  "ui/static//etc/passwd", "ui/static/..\\dashboard.py"])
def test_only_files_of_the_folder(path):
    with pytest.raises(HttpError) as caught:
        dashboard.answer(path, "GET", {})
    assert caught.value.status == 404


def test_etag_gives_304_and_other_methods_405():
    status, answer, headers = dashboard.answer("ui/static/app.js", "HEAD", {})
    etag = dict(headers)["ETag"]
    assert status == 200 and answer.content_type == "text/javascript; charset=utf-8"
    status, answer, _ = dashboard.answer("ui/static/app.js", "GET", {"HTTP_IF_NONE_MATCH": etag})
    assert status == 304 and answer.body == b""
    with pytest.raises(HttpError) as caught:
        dashboard.answer("", "POST", {})
    assert caught.value.status == 405 and caught.value.allow == "GET, HEAD"
