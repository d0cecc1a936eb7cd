"""The README and docs/: size, links, anchors, and the names and commands they quote.

Links are checked the way GitHub renders Markdown: a relative link must name a file or
folder of this checkout, and a `#fragment` must be the slug of a heading in the target
(lowercase, punctuation dropped, spaces to hyphens, `-1`, `-2` for repeats).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from aks_gpu.config.project import declared_keys
from tests.support.harness import ROOT

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_LIMIT = 12_000
# Pages other work streams write; until they land, a link to one is reported, not failed.
PENDING = {ROOT / "docs" / name for name in ("verification.md", "acceptance.md", "policy-pack.md")}

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)


def prose(text: str) -> str:
    """Markdown without fenced code blocks and inline code, where links are not links."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, keep word characters, spaces and hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor the headings of one page define, repeats numbered as GitHub does."""
    seen: dict[str, int] = {}
    found = set()
    for _, heading in _HEADING.findall(_FENCE.sub("", text)):
        base = slug(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def link_problems(page: Path, text: str) -> tuple[list[str], list[str]]:
    """(broken links, links to pending pages not written yet) of one page."""
    broken, pending = [], []
    for target in _LINK.findall(prose(text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path_part, _, fragment = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            (pending if resolved in PENDING else broken).append(f"{page.name}: {target} (no such file)")
            continue
        target_text = text if not path_part else "" if resolved.is_dir() else resolved.read_text()
        if fragment and fragment not in anchors(target_text):
            broken.append(f"{page.name}: {target} (no heading with anchor #{fragment})")
    return broken, pending


def test_the_readme_fits_in_twelve_thousand_characters():
    size = len(README.read_text())
    assert size <= README_LIMIT, f"README.md has {size} characters, the limit is {README_LIMIT}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    broken, pending = link_problems(page, page.read_text())
    assert broken == []
    for line in pending:
        warnings.warn(f"link to a page not written yet: {line}", stacklevel=1)


def test_the_link_check_catches_a_missing_file_and_a_missing_anchor():
    page = ROOT / "docs" / "index.md"
    text = "# T\n\n## Set up\n\n[a](configuration.md) [b](nowhere.md) [c](#set-up) [d](#nope)\n"
    text += "[e](configuration.md#no-such-heading) `[f](ignored.md)`\n```\n[g](ignored.md)\n```\n"
    broken, _ = link_problems(page, text)
    assert broken == [
        "index.md: nowhere.md (no such file)",
        "index.md: #nope (no heading with anchor #nope)",
        "index.md: configuration.md#no-such-heading (no heading with anchor #no-such-heading)",
    ]


def test_anchors_follow_githubs_slugs():
    text = "# A\n## Azure preflight (`preflight`)\n## Set up\n## Set up\n```\n# not a heading\n```\n"
    assert anchors(text) == {"a", "azure-preflight-preflight", "set-up", "set-up-1"}


def test_the_readme_names_every_config_key_and_links_the_reference():
    readme = README.read_text()
    missing = [key for key in declared_keys() if f"`{key}`" not in readme]
    assert missing == []
    assert "](docs/configuration.md)" in readme


def test_every_quoted_config_key_is_declared():
    declared = set(declared_keys())
    quoted = {(page.name, key) for page in PAGES for key in re.findall(r"aks-gpu:(\w+)", page.read_text())}
    assert sorted((name, key) for name, key in quoted if key not in declared) == []


def test_the_readme_points_at_every_benchmark_page():
    figures = README.read_text().split("## Figures", 1)[1]
    for page in sorted((ROOT / "benchmarks").glob("*.md")):
        assert f"](benchmarks/{page.name})" in figures, page.name


def test_the_readme_lists_the_prerequisites_with_versions():
    readme = README.read_text()
    section = readme.split("## Prerequisites", 1)[1].split("\n## ", 1)[0]
    for tool in ("Python", "Pulumi CLI", "Azure CLI", "kubelogin"):
        assert f"| {tool} |" in section, tool
    assert "3.11 or later" in section
    pulumi = next(line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("pulumi=="))
    assert pulumi.split("==")[1] in section
