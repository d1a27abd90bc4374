"""Serving uploads (core.media): images only, from inside MEDIA_ROOT only, with headers that stop
a browser from ever treating one as a page; on with DEBUG off, and in docker-compose."""

import os
from email.utils import formatdate
from pathlib import Path

import pytest
import yaml
from django.http import Http404
from django.test import override_settings

from core.media import MEDIA_CSP, media_file
from tests.uploads import HTML, image_bytes

ROOT = Path(__file__).resolve().parents[2]
PNG = image_bytes((40, 20))


@pytest.fixture
def media_root(tmp_path, settings):
    root = tmp_path / "media"
    (root / "campaigns" / "abc").mkdir(parents=True)
    (root / "campaigns" / "abc" / "cover.png").write_bytes(PNG)
    settings.MEDIA_ROOT = root
    return root


def body(response):
    return b"".join(response.streaming_content)


@override_settings(DEBUG=False)
def test_an_image_is_served_with_debug_off_and_safe_headers(client, media_root):
    response = client.get("/media/campaigns/abc/cover.png")
    assert response.status_code == 200
    assert body(response) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'inline; filename="cover.png"'
    assert response["Content-Security-Policy"] == MEDIA_CSP
    assert MEDIA_CSP == "default-src 'none'; img-src 'self'; sandbox"
    assert "max-age=" in response["Cache-Control"]
    assert response["Last-Modified"]


@pytest.mark.parametrize(
    "name,content_type",
    [("a.jpg", "image/jpeg"), ("b.JPEG", "image/jpeg"), ("c.webp", "image/webp")],
)
def test_each_of_our_formats_gets_its_own_type(client, media_root, name, content_type):
    (media_root / name).write_bytes(PNG)  # the type follows our extension, never sniffing
    response = client.get(f"/media/{name}")
    assert (response.status_code, response["Content-Type"]) == (200, content_type)
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "name,content",
    [
        ("evil.html", HTML),
        ("evil.htm", HTML),
        ("evil.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("notes.txt", b"hello"),
        ("evil", HTML),
        ("evil.png.html", PNG + HTML),
        (".hidden.png", PNG),
    ],
)
def test_a_planted_non_image_file_is_not_served(client, media_root, name, content):
    (media_root / "campaigns" / "abc" / name).write_bytes(content)
    response = client.get(f"/media/campaigns/abc/{name}")
    assert response.status_code == 404
    assert b"<script" not in response.content


def test_html_in_a_png_named_file_is_still_only_an_image(client, media_root):
    (media_root / "trap.png").write_bytes(HTML)
    response = client.get("/media/trap.png")
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/media/../secret.png",
        "/media/campaigns/../../secret.png",
        "/media/%2e%2e/secret.png",
        "/media/%2E%2E%2Fsecret.png",
        "/media/..%2fsecret.png",
        "/media/..%5csecret.png",
        "/media/campaigns%2f..%2f..%2fsecret.png",
        "/media/%252e%252e/secret.png",
        "/media/../../config/settings.py",
        "/media/%2e%2e/%2e%2e/config/settings.py",
        "/media//etc/passwd",
        "/media/%2fetc%2fpasswd",
        "/media/campaigns/abc/cover.png%00.html",
        "/media/link-out.png",
        "/media/",
        "/media/campaigns",
    ],
)
def test_nothing_outside_media_root_is_reachable(client, media_root, path):
    (media_root.parent / "secret.png").write_bytes(PNG)
    os.symlink(media_root.parent / "secret.png", media_root / "link-out.png")
    response = client.get(path)
    assert response.status_code in (400, 404), path
    assert PNG not in response.content


@pytest.mark.parametrize(
    "path", ["../secret.png", "campaigns/../../secret.png", "/tmp/../secret.png", "link-out.png"]
)
def test_the_view_itself_refuses_paths_that_resolve_outside(media_root, path):
    # The URL layer passes these through decoded; only the containment check stops them
    # (secret.png exists and has our extension).
    (media_root.parent / "secret.png").write_bytes(PNG)
    os.symlink(media_root.parent / "secret.png", media_root / "link-out.png")
    with pytest.raises(Http404):
        media_file(path)
    assert media_file("campaigns/abc/cover.png") == media_root / "campaigns" / "abc" / "cover.png"


def test_only_get_and_head(client, media_root):
    assert client.head("/media/campaigns/abc/cover.png").status_code == 200
    assert client.post("/media/campaigns/abc/cover.png").status_code == 405


def test_an_unchanged_file_is_not_sent_again(client, media_root):
    mtime = (media_root / "campaigns" / "abc" / "cover.png").stat().st_mtime
    response = client.get(
        "/media/campaigns/abc/cover.png",
        headers={"If-Modified-Since": formatdate(mtime + 60, usegmt=True)},
    )
    assert response.status_code == 304
    assert response["X-Content-Type-Options"] == "nosniff"


def test_serving_can_be_turned_off_for_a_proxy_or_object_storage(client, media_root, settings):
    settings.SERVE_MEDIA = False
    assert client.get("/media/campaigns/abc/cover.png").status_code == 404


def test_docker_compose_serves_media():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["services"]["web"]["environment"]
    assert str(env.get("SERVE_MEDIA", "true")).lower() in ("true", "1", "yes", "on")
    assert "media:/app/var/media" in compose["services"]["web"]["volumes"]
