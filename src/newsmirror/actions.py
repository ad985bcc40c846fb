"""``newsmirror init --github-actions``: a mirror repository that updates itself hourly.

The existing mirrors live on GitHub Actions: a fresh runner checks the archive repository
out each hour, runs, commits, pushes and forgets.  The workflow written here does that
with newsmirror, and publishes the static site on GitHub Pages:

- the archive repository is checked out into ``archive/`` (config and articles inside it);
  the site is built beside it in ``public/``, never committed;
- the catalog (``archive/.newsmirror/``: HTTP validators, revisions, image-copy state)
  travels between runs in the Actions cache, under a key that changes every run and is
  restored by prefix, saved even when a source failed.  Not committed: it grows by tens of
  KB per article, is binary, and would bloat every clone's history.  If the cache is gone
  (evicted, first run), newsmirror rebuilds the catalog from the files and the pass
  changes nothing it would not have changed anyway;
- ``update`` exiting 2 (a source or a push failed, the rest archived) does not stop the
  job; ``status`` decides its colour (3 when a source has failed too long, or nothing new
  came for too long);
- one run at a time (a concurrency group that queues, never cancels a pass half done);
  the update job may write the repository, only the deploy job may publish Pages.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError

WORKFLOW = """\
# newsmirror: archive the configured outlets every hour, commit, push, publish the site.
# Written by `newsmirror init --github-actions`; the README's "GitHub Actions" section
# explains each part.
name: newsmirror

on:
  schedule:
    - cron: "17 * * * *"       # hourly, off the full hour when runners are busiest
  workflow_dispatch: {}

concurrency:
  group: newsmirror            # two passes never overlap; a waiting one queues
  cancel-in-progress: false

permissions:
  contents: read

jobs:
  update:
    runs-on: ubuntu-latest
    timeout-minutes: 50
    permissions:
      contents: write          # commit and push the archive
    outputs:
      pages: ${{ steps.site.outputs.built }}
    steps:
      - uses: actions/checkout@v4
        with:
          path: archive
          fetch-depth: 1

      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
          cache: pip
          cache-dependency-path: archive/.github/newsmirror-requirements.txt

      - name: Install newsmirror
        id: install
        run: python -m pip install -q -r archive/.github/newsmirror-requirements.txt

      - name: Restore the catalog
        uses: actions/cache/restore@v4
        with:
          path: archive/.newsmirror
          key: newsmirror-catalog-${{ github.run_id }}
          restore-keys: newsmirror-catalog-

      - name: Git identity
        working-directory: archive
        run: |
          git config user.name "newsmirror"
          git config user.email "41898282+github-actions[bot]@users.noreply.github.com"

      - name: Update the archive
        id: update
        run: |
          set +e
          newsmirror --config archive/newsmirror.toml update
          code=$?
          # 2: a source or a push failed and the rest was archived; status decides below.
          if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then exit "$code"; fi
          exit 0

      - name: Save the catalog
        if: always()
        uses: actions/cache/save@v4
        with:
          path: archive/.newsmirror
          key: newsmirror-catalog-${{ github.run_id }}

      - name: Configure Pages
        id: pages
        uses: actions/configure-pages@v5
        continue-on-error: true  # Pages not enabled: the archive is still updated

      - name: Build the site
        id: site
        if: steps.pages.outcome == 'success'
        env:
          PAGES_URL: ${{ steps.pages.outputs.base_url }}
        run: |
          newsmirror --config archive/newsmirror.toml build --base-url "${PAGES_URL%/}/"
          echo "built=true" >> "$GITHUB_OUTPUT"

      - name: Upload the site
        if: steps.pages.outcome == 'success'
        uses: actions/upload-pages-artifact@v3
        with:
          path: public

      - name: Status
        run: newsmirror --config archive/newsmirror.toml status

  deploy:
    needs: update
    if: needs.update.outputs.pages == 'true'
    runs-on: ubuntu-latest
    permissions:
      pages: write
      id-token: write
    environment:
      name: github-pages
      url: ${{ steps.deployment.outputs.page_url }}
    steps:
      - id: deployment
        uses: actions/deploy-pages@v4
"""

# The package the workflow installs; a pinned release or a git URL works as well.
DEFAULT_PACKAGE = "newsmirror"

WORKFLOW_PATH = Path(".github/workflows/newsmirror.yml")
REQUIREMENTS_PATH = Path(".github/newsmirror-requirements.txt")


def config_for_actions(template: str) -> str:
    """The starting config, set for a repository checked out into ``archive/``: the
    archive is the repository itself, the site is written beside it, ``origin`` is
    pushed."""
    replacements = (
        ('path = "archive" ', 'path = "."       '),
        ('path = "public" ', 'path = "../public" '),
        ("remotes = [] ", 'remotes = ["origin"] '),
    )
    for old, new in replacements:
        if old not in template:
            raise AssertionError(f"the config template changed: {old!r}")
        template = template.replace(old, new, 1)
    return template


def write_actions_files(
    repo: Path, package: str = DEFAULT_PACKAGE, force: bool = False
) -> list[Path]:
    """Write the workflow and its requirements file into the repository at ``repo``."""
    out = []
    for rel, text in ((WORKFLOW_PATH, WORKFLOW), (REQUIREMENTS_PATH, f"{package}\n")):
        path = repo / rel
        if path.exists() and not force:
            raise ConfigError(f"{path}: already exists (use --force to overwrite)")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out.append(path)
    return out
