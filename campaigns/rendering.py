"""Campaign stories: Markdown rendered to HTML that is safe to show (no script, no handlers).

Stories have no images: `![alt](url)` renders as its alt text and `<img>` is removed like
every other tag we do not allow. An image from elsewhere is blocked by our CSP anyway (a
broken picture and a stray request on every view), and uploads belong on the cover, which is
checked and re-encoded (campaigns.images).
"""

import re

import markdown
import nh3
from markdown.treeprocessors import Treeprocessor

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h2",
    "h3",
    "h4",
    "strong",
    "em",
    "b",
    "i",
    "blockquote",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
_EMPTY_PARAGRAPH = re.compile(r"<p>\s*</p>\n?")


class _ImagesAsAltText(Treeprocessor):
    """Replace every Markdown image (inline or by reference) with its alt text."""

    def run(self, root):
        for parent in root.iter():
            for index, child in reversed(list(enumerate(parent))):
                if child.tag != "img":
                    continue
                text = (child.get("alt") or "") + (child.tail or "")
                if index == 0:
                    parent.text = (parent.text or "") + text
                else:
                    previous = parent[index - 1]
                    previous.tail = (previous.tail or "") + text
                parent.remove(child)


class _NoImagesExtension(markdown.Extension):
    def extendMarkdown(self, md):  # noqa: N802 - Markdown's API
        # After "inline" (priority 20), which is where image elements are made.
        md.treeprocessors.register(_ImagesAsAltText(md), "images_as_alt_text", 15)


def render_story(source: str) -> str:
    html = markdown.markdown(
        source or "",
        extensions=["extra", "sane_lists", _NoImagesExtension()],
        output_format="html",
    )
    return sanitize(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES)


def sanitize(html: str, *, tags, attributes) -> str:
    """Only `tags` and `attributes` of `html` (no script, handlers or styles), links to
    http(s)/mailto only and marked as user content; also for comments (community.comments)."""
    html = nh3.clean(
        html,
        tags=tags,
        attributes=attributes,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow ugc",
    )
    # A paragraph that held only a removed tag (a raw <img>, say) leaves nothing to show.
    return _EMPTY_PARAGRAPH.sub("", html)
