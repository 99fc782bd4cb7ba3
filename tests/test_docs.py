"""The README stays a user's guide, every link in it resolves inside the repository,
and every setting config.py reads is documented somewhere in README.md or docs/."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))


def markdown_links(path):
    return re.findall(r"\]\(([^)\s]+)\)", path.read_text())


def anchors(path):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    result = set()
    for heading in re.findall(r"^#+ (.+)$", path.read_text(), flags=re.MULTILINE):
        result.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return result


def test_the_readme_is_a_guide_not_a_notebook():
    text = README.read_text()

    assert len(text.splitlines()) <= 450
    assert "make run" in text and "make test" in text
    for section in ("## Quick start", "### With Docker", "## Configuration", "## API", "## Waitlist rules",
                    "## Flower", "## Tests", "## Benchmark"):
        assert section in text, section
    for name in ("architecture.md", "reliability.md", "benchmarks.md", "observability.md"):
        assert (ROOT / "docs" / name).is_file(), name
        assert f"docs/{name}" in text, name


def test_every_link_in_the_readme_and_docs_resolves_inside_the_repository():
    for page in [README, *DOCS]:
        for link in markdown_links(page):
            assert not link.startswith(("http://", "https://", "//")), (page.name, link)
            target, _, anchor = link.partition("#")
            resolved = (page.parent / target).resolve() if target else page
            assert resolved.is_relative_to(ROOT), (page.name, link)
            assert resolved.exists(), (page.name, link)
            if anchor and resolved.suffix == ".md":
                assert anchor in anchors(resolved), (page.name, link)


def test_every_setting_config_reads_is_documented():
    read = set(re.findall(r'env(?:_int|_bool|_list)?\("([A-Z_]+)"', (ROOT / "config.py").read_text()))
    read |= set(re.findall(r'environ\.get\("([A-Z_]+)"', (ROOT / "gunicorn.conf.py").read_text()))
    documented = README.read_text() + "".join(page.read_text() for page in DOCS)
    missing = {name for name in read if f"`{name}`" not in documented}
    assert not missing, missing
