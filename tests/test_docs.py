"""The documentation site builds strictly (a broken link or a missing page fails) and reads in a real browser:
the navigation leads to three pages, each with its heading (Debian chromium driven by playwright)."""

import functools
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

REPO_ROOT = Path(__file__).resolve().parents[1]
MKDOCS = Path(sys.executable).parent / "mkdocs"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not MKDOCS.exists():
        pytest.skip("mkdocs is not installed (requirements-dev.txt)")
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run([str(MKDOCS), "build", "--strict", "--site-dir", str(out)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_the_site_has_a_page_per_topic_and_the_api_reference(site):
    for page in ("getting-started", "training/search", "choosing", "serving", "operating", "settings",
                 "input_limits", "results/history", "reference/api"):  # fmt: skip
        assert (site / page / "index.html").is_file(), page
    api = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    assert "Classifier" in api and "predict_proba" in api  # generated from the docstrings


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make browser)")
def test_the_navigation_leads_to_three_pages_in_a_real_browser(site):
    from playwright.sync_api import expect, sync_playwright

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(url)
            expect(page.locator("h1").first).to_contain_text("Hate speech detection for tweets")
            for link, heading in (("Getting started", "Getting started"),
                                  ("Choosing a model (rule 5)", "Choosing a model: rule 5"),
                                  ("Settings", "Settings")):  # fmt: skip
                page.locator("nav.md-nav--primary").get_by_role("link", name=link, exact=True).first.click()
                expect(page.locator("article h1").first).to_contain_text(heading)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "docs_settings.png"))
            browser.close()
    finally:
        server.shutdown()


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make browser)")
def test_the_home_page_diagram_renders_without_a_network(site):
    """Mermaid comes with the site (make fetches it from its npm package): every request that leaves loopback is
    refused, and the diagram still draws as an SVG, not its source text."""
    from playwright.sync_api import sync_playwright

    assert (site / "javascripts" / "mermaid.min.js").is_file(), "run `make docs/javascripts/mermaid.min.js` first"
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url, refused = f"http://127.0.0.1:{server.server_address[1]}/", []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.route(lambda address: not address.startswith(url), lambda route: (
                refused.append(route.request.url), route.abort()))  # fmt: skip
            page.goto(url)
            # The theme draws the diagram into a closed shadow root in place of its source text: the element is
            # emptied and takes the drawing's height (the source text stays when mermaid cannot load).
            page.wait_for_function("(() => { const e = document.querySelector('.mermaid'); return e && "
                                   "!e.textContent.trim() && e.getBoundingClientRect().height > 40; })()",
                                   timeout=30_000)  # fmt: skip
            assert page.evaluate("typeof mermaid") == "object"  # the copy served with the site
            assert "flowchart LR" not in page.locator("article").inner_text()  # not the source text
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.locator(".mermaid").first.screenshot(path=str(ARTIFACTS / "docs_diagram.png"))
            # The control: without the served copy the theme reaches for a CDN, is refused, and the source stays.
            bare = browser.new_page()
            bare.route(lambda address: not address.startswith(url) or address.endswith("mermaid.min.js"),
                       lambda route: route.abort())  # fmt: skip
            bare.goto(url)
            bare.wait_for_timeout(3000)
            assert "flowchart LR" in bare.locator("article").inner_text()
            browser.close()
    finally:
        server.shutdown()
    assert not [address for address in refused if "mermaid" in address], refused  # nothing fetched from a CDN


def test_the_pages_workflow_is_valid_for_actionlint():
    actionlint = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    if not Path(actionlint).exists():
        pytest.skip("actionlint is not installed (requirements-dev.txt)")
    workflow = REPO_ROOT / ".github" / "workflows" / "docs.yml"
    result = subprocess.run([actionlint, str(workflow)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
