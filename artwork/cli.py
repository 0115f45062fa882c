"""The ``artwork`` command. Each command's docstring is its help text; the bodies stay thin."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import vocab
from .catalog import data_paths, install_demo, install_titles
from .storage import Store

data_dir_option = click.option(
    "--data-dir", envvar="ARTWORK_DATA_DIR", default="./artwork-data", show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory (database, images, model checkpoints). Env: ARTWORK_DATA_DIR.")


@click.group()
@click.version_option(package_name="artwork-personalizer")
def cli():
    """Personalized artwork selection with a Vowpal Wabbit contextual bandit."""


def initialize(data_dir: Path, demo: bool = True) -> Store:
    paths = data_paths(data_dir)
    paths["data_dir"].mkdir(parents=True, exist_ok=True)
    store = Store(paths["db"])
    if demo and not store.has_catalog():
        from .demo_catalog import demo_titles

        count = len(demo_titles())
        with click.progressbar(length=count, label="Rendering demo artwork", file=sys.stderr) as bar:
            install_demo(store, paths["images"], progress=bar.update)
    return store


@cli.command()
@data_dir_option
@click.option("--demo/--no-demo", default=True, show_default=True, help="Install the bundled demo catalog.")
def init(data_dir: Path, demo: bool):
    """Create the data directory, the database and (by default) the demo catalog and its images.

    Safe to run again: an existing catalog is left as it is.
    """
    store = initialize(data_dir, demo)
    titles = store.scalar("SELECT count(*) FROM titles")
    arts = store.scalar("SELECT count(*) FROM artworks WHERE active = 1")
    click.echo(f"Data directory {data_dir.resolve()}: {titles} titles, {arts} artwork variants.")


@cli.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="TCP port.")
def serve(data_dir: Path, host: str, port: int):
    """Start the service (one process: request threads plus the online learner).

    An empty or new data directory is initialized with the demo catalog first.
    """
    from werkzeug.serving import run_simple

    from .app import create_app

    if not data_paths(data_dir)["db"].exists():
        initialize(data_dir)
    app = create_app({"DATA_DIR": str(data_dir)})
    click.echo(f"Serving on http://{host}:{port}/ (data directory {data_dir.resolve()})")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        app.extensions["artwork.learner"].stop()


@cli.command("import")
@data_dir_option
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("images_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True,
              help="Import the titles that are valid and report the others (default: import nothing "
                   "if any title is invalid).")
def import_catalog(data_dir: Path, manifest: Path, images_dir: Path, skip_invalid: bool):
    """Import titles and artwork from MANIFEST (.json or .csv) with images under IMAGES_DIR.

    Images are validated and resized with Pillow. A title with any problem is never half
    written; the manifest format is described in the README.
    """
    from . import importer

    store = initialize(data_dir, demo=False)
    try:
        titles = importer.read_manifest(manifest)
    except importer.ManifestError as exc:
        raise click.ClickException(str(exc)) from None
    known = tuple(sorted(store.genre_vocabulary() | set(vocab.GENRES)))
    prepared, errors = importer.prepare_import(titles, images_dir, known_genres=known)
    for message in errors:
        click.echo(f"error: {message}", err=True)
    if errors and not skip_invalid:
        raise click.ClickException(f"{len(errors)} problem(s); nothing imported (use --skip-invalid to "
                                   "import the valid titles)")
    try:
        count = install_titles(store, data_paths(data_dir)["images"], [(p.title, p.images) for p in prepared])
    except ValueError as exc:  # e.g. an artwork id that already belongs to another title
        raise click.ClickException(f"{exc}; nothing imported") from None
    skipped = f"; skipped {len(titles) - count} invalid" if errors else ""
    click.echo(f"Imported {count} title(s){skipped}.")
