"""The ``artwork`` command. Each command's docstring is its help text; the bodies stay thin."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from . import vocab
from .catalog import data_paths, install_demo
from .proxy import KEY_BURST, KEY_RATE
from .storage import Storage, StoreOpenError
from .stores import has_database

data_dir_option = click.option(
    "--data-dir", envvar="ARTWORK_DATA_DIR", default="./artwork-data", show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory (database, images, model checkpoints). Env: ARTWORK_DATA_DIR.")


@click.group()
@click.version_option(package_name="artwork-personalizer")
def cli():
    """Personalized artwork selection with a Vowpal Wabbit contextual bandit."""


def settings_for(data_dir: Path, **overrides):
    """The settings with this data directory (and ``ARTWORK_*``, e.g. ARTWORK_DATABASE_URL)."""
    from .config import load_settings

    try:
        return load_settings({"DATA_DIR": str(data_dir), **overrides})
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def open_store_or_fail(settings) -> Storage:
    """The settings' store (stores.open_store), or a clear error for a bad URL or a silent server."""
    from .stores import open_store

    try:
        return open_store(settings)
    except StoreOpenError as exc:
        raise click.ClickException(str(exc)) from None


def _check_at_start(store: Storage) -> None:
    """Refuse to start on a damaged database (``integrity.check_at_start``): its message, no traceback."""
    from .integrity import check_at_start

    try:
        check_at_start(store)
    except StoreOpenError as exc:
        raise click.ClickException(str(exc)) from None


def initialize(data_dir: Path, demo: bool = True) -> Storage:
    """Open (and migrate) the store of ``data_dir``'s settings, installing the demo catalog if it
    has none and ``demo``."""
    settings = settings_for(data_dir)
    store = open_store_or_fail(settings)
    if demo and not store.has_catalog():
        from .demo_catalog import demo_titles

        count = len(demo_titles())
        with click.progressbar(length=count, label="Rendering demo artwork", file=sys.stderr) as bar:
            install_demo(store, data_paths(data_dir)["images"], progress=bar.update)
    return store


@cli.command()
@data_dir_option
@click.option("--demo/--no-demo", default=True, show_default=True, help="Install the bundled demo catalog.")
def init(data_dir: Path, demo: bool):
    """Create the data directory, the database and (by default) the demo catalog and its images.

    Safe to run again: an existing catalog is left as it is.
    """
    store = initialize(data_dir, demo)
    titles, arts = store.catalog_counts()
    click.echo(f"Data directory {data_dir.resolve()}: {titles} titles, {arts} artwork variants.")


@cli.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="TCP port.")
@click.option("--workers", default=0, show_default=True, type=click.IntRange(min=0),
              help="0: one process (waitress), requests and the learner in threads: the demo, one "
                   "core's worth of traffic. N >= 1: gunicorn with N serving processes plus one learner "
                   "process.")
@click.option("--threads", default=None, type=click.IntRange(min=1),
              help="Request threads per process. Default: 2 in one process; per serving process with "
                   "--workers, 1 on SQLite (threads would contend for the GIL while holding the log's "
                   "write lock) and 8 on PostgreSQL (each decision waits for its commit's flush; threads "
                   "overlap the waits). Measurements: benchmarks/README.md.")
def serve(data_dir: Path, host: str, port: int, workers: int, threads: int | None):
    """Start the service. An empty or new data directory (with ARTWORK_DATABASE_URL: a database
    with no catalog) is initialized with the demo catalog.

    Without --workers: one process (waitress) with the learner in a thread.
    With --workers N: gunicorn with N serving processes that predict with the learner's
    published snapshots, plus exactly one learner process (`artwork learn`).
    """
    # A new database gets the demo catalog (PostgreSQL: one with no catalog yet); pending
    # migrations are applied here, once, before any worker starts.
    settings = settings_for(data_dir)
    store = initialize(data_dir, demo=not has_database(settings) or settings.database_url is not None)
    _check_at_start(store)
    store.close()
    # SIGTERM (systemd, docker stop) ends the server like Ctrl-C, so the final checkpoint is written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from .production import POSTGRES_THREADS, SINGLE_THREADS, serve_production, serve_single

    if workers:
        serve_production(data_dir, host, port, workers, threads or (POSTGRES_THREADS if settings.database_url else 1))
    else:
        serve_single(data_dir, host, port, threads or SINGLE_THREADS)


@cli.command()
@data_dir_option
@click.option("--older-than", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Days; default: the RETENTION_DAYS setting.")
def purge(data_dir: Path, older_than: float | None):
    """Delete decisions (with their outcomes), views and ratings older than the retention period,
    and print what was deleted. Run it daily (cron, a systemd timer) to keep the retention."""
    import json

    from .service import Admin, Service

    settings = settings_for(data_dir, LEARNER="manual")
    days = older_than if older_than is not None else settings.retention_days
    if not days > 0:
        raise click.ClickException("no retention period: give --older-than DAYS or set RETENTION_DAYS")
    if not has_database(settings):
        raise click.ClickException(f"no database in {data_dir}")
    store = open_store_or_fail(settings)
    click.echo(json.dumps(Admin(Service(settings, store, model=None)).purge(days)))
    store.close()


@cli.command()
@data_dir_option
@click.option("--parent-pid", type=int, default=None, hidden=True,
              help="Stop when this process is gone (set by serve --workers).")
def learn(data_dir: Path, parent_pid: int | None):
    """Run the learner on its own: learn final events from the log in order and publish model
    snapshots for serving processes (`serve --workers` starts one for you). Run one on several
    hosts with ARTWORK_DATABASE_URL: they elect one leader, the others stand by and take over
    within seconds if it dies. Stops on SIGTERM or Ctrl-C after a last checkpoint."""
    import logging

    from .learner import run_learner_process

    logging.basicConfig(level=logging.INFO, format="%(asctime)s learner %(levelname)s %(message)s")
    try:
        run_learner_process(settings_for(data_dir), parent_pid=parent_pid)
    except StoreOpenError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command("import")
@data_dir_option
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("images_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True,
              help="Import the titles that are valid and report the others (default: import nothing "
                   "if any title is invalid).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Processes preparing images (default: one per usable core). 1: in this process.")
@click.option("--progress/--no-progress", default=None,
              help="Show titles and images done and images/s on stderr (default: when stderr is a terminal).")
def import_catalog(data_dir: Path, manifest: Path, images_dir: Path, skip_invalid: bool, jobs: int | None,
                   progress: bool | None):
    """Import titles and artwork from MANIFEST (.json or .csv) with images under IMAGES_DIR.

    Images are validated and resized with Pillow, on every core. Every title is checked before
    any is written, and a title with any problem is never half written; the manifest format is
    described in the README.
    """
    import contextlib
    import os
    import time

    from tqdm import tqdm

    from . import importer
    from .catalog import StagedImages

    store = initialize(data_dir, demo=False)
    try:
        titles = importer.read_manifest(manifest)
    except importer.ManifestError as exc:
        raise click.ClickException(str(exc)) from None
    known = tuple(sorted(store.genre_vocabulary() | set(vocab.GENRES)))
    outcomes = importer.prepare_titles(titles, images_dir, known_genres=known,
                                       jobs=jobs or len(os.sched_getaffinity(0)))
    good, errors = [], []
    bar = tqdm(total=sum(len(t["artwork"]) for t in titles), unit="image", desc="Importing", file=sys.stderr,
               disable=None if progress is None else not progress, dynamic_ncols=True)
    with StagedImages(store, data_paths(data_dir)["images"]) as staged, bar, contextlib.closing(outcomes):
        try:
            for done, outcome in enumerate(outcomes, start=1):
                for message in outcome.problems:
                    bar.write(f"error: {message}", file=sys.stderr)
                errors += outcome.problems
                if outcome.prepared is not None and (skip_invalid or not errors):
                    good.append((outcome.prepared.title, staged.add(outcome.prepared.images)))
                bar.set_postfix_str(f"{done}/{len(titles)} titles", refresh=False)
                bar.update(outcome.images)
        except importer.PreparationFailed as exc:
            raise click.ClickException(f"{exc}; nothing imported") from None
        if errors and not skip_invalid:
            raise click.ClickException(f"{len(errors)} problem(s); nothing imported (use --skip-invalid to "
                                       "import the valid titles)")
        staged.publish()
        try:
            store.put_titles(good, time.time())  # one transaction: every title whole, or none
        except ValueError as exc:  # e.g. an artwork id that already belongs to another title
            raise click.ClickException(f"{exc}; nothing imported") from None
    skipped = f"; skipped {len(titles) - len(good)} invalid" if errors else ""
    click.echo(f"Imported {len(good)} title(s){skipped}.")


# Integrity and backups ------------------------------------------------------------------------

@cli.command()
@data_dir_option
def check(data_dir: Path):
    """Check the database's pages (SQLite's integrity_check; with PostgreSQL, that it answers),
    every model checkpoint's checksum and an image for every active artwork. Prints a report;
    exits 1 if anything is wrong. Safe while the service runs (it only reads)."""
    from .integrity import check as check_all

    settings = settings_for(data_dir)
    if not has_database(settings):
        raise click.ClickException(f"no database in {data_dir}")
    store = open_store_or_fail(settings)
    findings = check_all(store, data_paths(data_dir))
    store.close()
    for finding in findings:
        click.echo(f"{finding.part}: {'ok' if finding.ok else 'PROBLEMS'} ({finding.summary})")
        for problem in finding.problems:
            click.echo(f"  - {problem}")
    if not all(finding.ok for finding in findings):
        click.echo("Damaged: restore the newest backup (`artwork restore BACKUP.tar`), see the README's "
                   "\"Integrity and backups\".", err=True)
        sys.exit(1)


@cli.command()
@data_dir_option
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The backup file to write (a tar).")
def backup(data_dir: Path, out_file: Path):
    """Back up the data directory while the service runs: the log (SQLite's online backup, one
    moment's copy), the checkpoints it names of both loops' models and the images, in one tar file with a
    manifest of checksums. With ARTWORK_DATABASE_URL, use PostgreSQL's pg_dump instead."""
    from .backups import backup as write_backup

    settings = settings_for(data_dir)
    if settings.database_url is not None:
        raise click.ClickException("the log and the model are in PostgreSQL: back them up with its own tools "
                                   "(pg_dump -Fc, or pg_basebackup with WAL archiving); see the README's "
                                   "\"Integrity and backups\"")
    if not has_database(settings):
        raise click.ClickException(f"no database in {data_dir}")
    store = open_store_or_fail(settings)
    try:
        manifest = write_backup(store, data_paths(data_dir), out_file)
    finally:
        store.close()
    click.echo(f"Wrote {out_file}: {manifest['decisions']} decisions, {manifest['checkpoints']} checkpoint(s) "
               f"(and {manifest['personalizer_checkpoints']} of the Personalizer loop's model), "
               f"{len(manifest['files'])} files.")


@cli.command()
@data_dir_option
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True,
              help="Replace a database the data directory has already, even one a running process has open.")
def restore(data_dir: Path, archive: Path, force: bool):
    """Restore a backup written by `artwork backup` into the data directory, after checking every
    file's checksum. Stop the service first: a data directory with a database, or one in use, is
    refused unless --force."""
    from .backups import BackupError
    from .backups import restore as install

    if settings_for(data_dir).database_url is not None:
        raise click.ClickException("ARTWORK_DATABASE_URL is set: restore PostgreSQL with pg_restore")
    try:
        manifest = install(archive, data_paths(data_dir), force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored {manifest['decisions']} decisions and {manifest['checkpoints']} checkpoint(s) "
               f"(and {manifest.get('personalizer_checkpoints', 0)} of the Personalizer loop's model) into {data_dir}.")


# Offline: simulation and evaluation (thin wrappers over simulations/) --------------------------

def _catalog(data_dir: Path | None) -> list[dict]:
    """The catalog of a data directory if it has one, else the bundled demo catalog."""
    if data_dir is not None and has_database(settings_for(data_dir)):
        store = open_store_or_fail(settings_for(data_dir))
        if store.has_catalog():
            return store.titles()
    from .demo_catalog import demo_titles

    return demo_titles()


@cli.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the report and the logs (created; must not hold earlier runs).")
@click.option("--policy", "policies", multiple=True,
              help="A policy name (uniform, context-free, default, epsilon-greedy, softmax, squarecb, bag, cover) "
                   "or VW arguments; repeat for several. Default: uniform, context-free, epsilon-greedy, default.")
@click.option("--impressions", default=10_000, show_default=True, type=click.IntRange(min=10),
              help="Impressions per policy and seed.")
@click.option("--seeds", default=3, show_default=True, type=click.IntRange(min=1), help="Runs per policy.")
@click.option("--reward", type=click.Choice(["click", "quality_play"]), default="click", show_default=True)
@click.option("--world-seed", default=0, show_default=True, type=int, help="Seed of the synthetic world.")
@click.option("--world", "world_name", default="default", show_default=True,
              help="Which world: a name of artwork.simulations.world.VARIANTS (default, smooth-time, quirks, "
                   "noisy-affinity, popular-titles, new-titles, drift, everything).")
def simulate(out_dir: Path, policies, impressions: int, seeds: int, reward: str, world_seed: int, world_name: str):
    """Run policies online in the synthetic world and write learning curves, regret and a summary.

    Every impression goes through the service's own decision, logging and learning code; each
    run's log is a service database under OUT, ready for `artwork evaluate --db`.
    """
    from artwork.simulations.simulate import DEFAULT_POLICIES, policy_spec, run_simulation
    from artwork.simulations.world import VARIANTS, World

    from .demo_catalog import demo_titles

    try:
        specs = [policy_spec(p) for p in (policies or DEFAULT_POLICIES)]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--policy") from None
    if world_name not in VARIANTS:
        raise click.BadParameter(f"unknown world {world_name!r}: one of {', '.join(VARIANTS)}", param_hint="--world")
    world = World(demo_titles(), VARIANTS[world_name], seed=world_seed)
    try:
        run_simulation(world, specs, impressions, list(range(1, seeds + 1)), out_dir, reward=reward)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo((out_dir / "README.md").read_text())
    click.echo(f"Report: {out_dir / 'README.md'}")


def _load_log(db, csv_path, dsjson, data_dir, skip_invalid=False):
    from artwork.simulations import logs

    sources = [s for s in (db, csv_path, dsjson) if s is not None]
    if len(sources) != 1:
        raise click.UsageError("give exactly one of --db, --csv, --dsjson")
    if skip_invalid and dsjson is None:
        raise click.UsageError("--skip-invalid applies to --dsjson logs only")
    try:
        if db is not None:
            return logs.from_database(db)
        if csv_path is not None:
            return logs.from_csv(csv_path, _catalog(data_dir))
        log = logs.from_dsjson(dsjson, skip_invalid=skip_invalid)
    except logs.LogError as exc:
        raise click.ClickException(str(exc)) from None
    for message in log.meta.get("invalid_lines", []):
        click.echo(f"skipped: {message}", err=True)
    return log


log_options = [
    click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="A service database (artwork.db), e.g. one written by `artwork simulate`."),
    click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="A CSV of logged decisions (format: simulations/logs.py)."),
    click.option("--dsjson", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="DSJSON lines: this service's export, or an Azure Personalizer, learning-loop or Decision "
                      "Service log (contextual-bandit decisions; see the README)."),
    click.option("--skip-invalid", is_flag=True,
                 help="DSJSON: skip lines that are malformed or not contextual-bandit decisions, and report them "
                      "(default: stop at the first)."),
    click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="Catalog for --csv logs (default: the demo catalog)."),
    click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                 help="Folder for the report."),
]


def with_log_options(fn):
    for option in reversed(log_options):
        fn = option(fn)
    return fn


def _world_for(db: Path | None, world_seed: int | None):
    """The synthetic world behind a log: named by --world-seed, or found beside a simulated db."""
    from artwork.simulations.simulate import world_from_log_dir
    from artwork.simulations.world import World

    from .demo_catalog import demo_titles

    if world_seed is not None:
        return World(demo_titles(), seed=world_seed), None
    if db is not None:
        world = world_from_log_dir(db.parent, demo_titles())
        if world is not None:
            import json

            return world, json.loads((db.parent / "simulation.json").read_text())["reward"]
    return None, None


@cli.command()
@with_log_options
@click.option("--policy", "policies", multiple=True,
              help="VW policy (name or arguments) to evaluate, trained progressively on the log; repeatable. "
                   "Default: epsilon-greedy, squarecb, softmax (the names a DSJSON log with its own features "
                   "takes, with uniform, crossed with its namespaces).")
@click.option("--world-seed", type=int, default=None,
              help="The log came from the synthetic world with this seed: show true values (found "
                   "automatically for logs written by `artwork simulate`).")
@click.option("--reward", type=click.Choice(["click", "quality_play"]), default=None,
              help="Reward definition for true values (default: the simulation's, else click).")
def evaluate(db, csv_path, dsjson, skip_invalid, data_dir, out_dir, policies, world_seed, reward):
    """Estimate what candidate policies would have earned on a log (replay, IPS, SNIPS, DM, DR,
    Switch-DR, with 95% intervals and diagnostics), beside the truth when it is known."""
    from artwork.simulations.evaluate import policy_specs_for, run_evaluation

    log = _load_log(db, csv_path, dsjson, data_dir, skip_invalid)
    world, sim_reward = _world_for(db, world_seed)
    try:
        specs = policy_specs_for(log, policies or ("epsilon-greedy", "squarecb", "softmax"))
        run_evaluation(log, out_dir, vw_policies=specs, world=world, reward=reward or sim_reward or "click")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo((out_dir / "README.md").read_text())
    click.echo(f"Report: {out_dir / 'README.md'}")


@cli.command("search")
@with_log_options
@click.option("--estimator", default="DR", show_default=True, help="Estimator that ranks the candidates.")
@click.option("--quick", is_flag=True, help="A small grid (epsilon 0.1/0.2 x two interaction sets x one rate).")
@click.option("--world-seed", type=int, default=None, help="Show true values for a log from this world.")
def search_policies(db, csv_path, dsjson, skip_invalid, data_dir, out_dir, estimator, quick, world_seed):
    """Sweep VW arguments (exploration, interactions, learning rate) on a log and rank them by the
    lower bound of their 95% interval: the rule for promoting a policy."""
    from tqdm import tqdm

    from artwork.simulations.evaluate import reward_model, true_reward_matrix
    from artwork.simulations.search import grid, interaction_sets, quick_grid, search, write_search_report

    log = _load_log(db, csv_path, dsjson, data_dir, skip_invalid)
    if log.n_rounds == 0:
        raise click.ClickException("the log has no decisions with a final reward")
    world, sim_reward = _world_for(db, world_seed)
    configs = quick_grid(log) if quick else grid(sets=interaction_sets(log))
    truth = true_reward_matrix(log, world, sim_reward or "click") if world is not None else None
    with tqdm(total=len(configs), unit="config", desc="searching") as bar:
        rows = search(log, configs, reward_model(log), estimator=estimator, truth=truth, progress=bar.update)
    click.echo(write_search_report(rows, log, out_dir).read_text())


@cli.command("export")
@data_dir_option
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (DSJSON lines).")
def export_log(data_dir: Path, out_file: Path):
    """Export the service's decisions with final rewards as DSJSON lines, learnable by
    `vw --dsjson --cb_explore_adf` and readable by `artwork evaluate --dsjson`."""
    from artwork.simulations import logs

    settings = settings_for(data_dir)
    if not has_database(settings):
        raise click.ClickException(f"no database in {data_dir}")
    store = open_store_or_fail(settings)
    try:
        count = logs.to_dsjson(logs.from_store(store, "the service's log"), out_file)
    finally:
        store.close()
    click.echo(f"Wrote {count} decisions to {out_file}.")


def _upstream(ctx, param, values: tuple[str, ...]) -> list[str]:
    from .proxy import ProxyError, address, parse_address

    try:
        return [address(*parse_address(value)) for value in values]
    except ProxyError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--upstream", "upstreams", multiple=True, required=True, metavar="HOST:PORT", callback=_upstream,
              help="A serving host (`artwork serve` on it); repeat for each.")
@click.option("--key-rate", default=KEY_RATE, show_default=True, type=click.IntRange(1),
              help="Requests per second each client key (X-Api-Key) may send; more get 429.")
@click.option("--key-burst", default=KEY_BURST, show_default=True, type=click.IntRange(0),
              help="Requests above the rate a client key may send at once.")
def proxy(host: str, port: int, upstreams: list[str], key_rate: int, key_burst: int):
    """Run nginx in the foreground in front of serving hosts, with the reference configuration
    (deploy/nginx.conf.template): requests spread over the hosts, a dead host skipped, slow
    clients buffered, only safe retries. Needs Debian's nginx package. Stops on SIGTERM or
    Ctrl-C (requests in flight finish)."""
    from .proxy import ProxyError, run_proxy

    try:
        run_proxy(host, port, upstreams, echo=click.echo, key_rate=key_rate, key_burst=key_burst)
    except ProxyError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    cli()


@cli.group()
def personalizer():
    """The Personalizer-compatible loop (POST /personalizer/v1.0/rank, reward, activate): warm
    start it from a DSJSON log, export its log, read or switch its mode, reset its model (README
    "Moving from Azure Personalizer")."""


@personalizer.command("warm-start")
@data_dir_option
@click.option("--dsjson", "dsjson", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="DSJSON lines from Azure Personalizer, learning-loop or the Decision Service.")
@click.option("--skip-invalid", is_flag=True, help="Skip malformed lines and report them (default: stop at the first).")
@click.option("--reward-aggregation", type=click.Choice(["earliest", "sum"]), default="earliest", show_default=True,
              help="How the rewards of a line's `o` outcomes combine when it has no _label_cost.")
def warm_start(data_dir: Path, dsjson: Path, skip_invalid: bool, reward_aggregation: str):
    """Train the loop's model from an imported DSJSON log, so it does not start cold: the log's
    rewarded decisions enter the loop's log (final, in time order; ids already there are left
    out), and its learner learns them, exactly once, and writes a checkpoint."""
    from .personalizer import import_decisions, personalizer_learner
    from .simulations.dsjson import read_dsjson
    from .simulations.logs import LogError

    settings = settings_for(data_dir)
    try:
        log = read_dsjson(dsjson, skip_invalid=skip_invalid, reward_aggregation=reward_aggregation)
    except LogError as exc:
        raise click.ClickException(str(exc)) from None
    for message in log.meta.get("invalid_lines", []):
        click.echo(f"skipped: {message}", err=True)
    rounds = [{"event_id": log.event_ids[i], "ts": float(log.timestamps[i]), "features": log.features[i],
               "candidates": log.candidates[i], "action": int(log.action[i]), "pscore": float(log.pscore[i]),
               "reward": float(log.reward[i]),
               "pmf": None if log.logging_pmf is None else [float(p) for p in
                                                            log.logging_pmf[i][:len(log.candidates[i])]]}
              for i in range(log.n_rounds)]
    store = open_store_or_fail(settings)
    try:
        imported = import_decisions(store, rounds)
        learner = personalizer_learner(settings, store, data_paths(settings.data_dir)["models"])
        checkpoint = learner.checkpoint()
        learner.model.close()
    finally:
        store.close()
    click.echo(f"imported {imported} of {log.n_rounds} decisions ({log.source}); the loop's model has learned "
               f"{learner.model.seq} events" + (f", checkpoint {checkpoint.name}" if checkpoint else ""))


@personalizer.command("export")
@data_dir_option
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The DSJSON file to write.")
def export(data_dir: Path, out_file: Path):
    """Write the loop's rewarded decisions as DSJSON lines, for `artwork evaluate --dsjson` (or
    `vw --dsjson`)."""
    from .personalizer import export_dsjson

    store = open_store_or_fail(settings_for(data_dir))
    try:
        with open(out_file, "w", encoding="utf-8") as out:
            written = export_dsjson(store, out)
    finally:
        store.close()
    click.echo(f"wrote {written} decisions to {out_file}")


@personalizer.command("status")
@data_dir_option
def status(data_dir: Path):
    """The loop's mode and switches, the bandit against the baseline (mean rewards with 95%
    intervals, agreement rate) over the mode's rewarded events, and its log's totals, as JSON."""
    import json

    from .personalizer import loop_status

    settings = settings_for(data_dir)
    store = open_store_or_fail(settings)
    try:
        click.echo(json.dumps(loop_status(store, settings), indent=2))
    finally:
        store.close()


@personalizer.command("mode")
@data_dir_option
@click.argument("mode", type=click.Choice(["online", "apprentice"]))
def mode(data_dir: Path, mode: str):
    """Switch the loop to MODE (running servers follow at their next rank call)."""
    import time

    store = open_store_or_fail(settings_for(data_dir))
    try:
        store.set_pz_mode(mode, "admin (artwork personalizer mode)", time.time())
    finally:
        store.close()
    click.echo(f"the Personalizer loop is now in {mode} mode")


@personalizer.command("reset")
@data_dir_option
@click.confirmation_option(prompt="Reset the Personalizer loop's model? It starts again, learning only what is "
                                  "final from now on")
def reset(data_dir: Path):
    """Reset the loop's model, as DELETE /personalizer/v1.0/model does: a fresh model (a new model
    epoch) that learns only events final from now on; the log is kept. A running server's learner
    starts it at its next round."""
    import time

    from .personalizer import reset_model

    store = open_store_or_fail(settings_for(data_dir))
    try:
        started = reset_model(store, time.time())
    finally:
        store.close()
    click.echo(f"the Personalizer loop's model was reset: epoch {started['epoch']}, learning from event "
               f"{started['start_seq'] + 1} of its learn queue on")
# Live experiments (artwork/experiments.py) ------------------------------------------------------

@cli.group()
def experiment():
    """Live experiments: A/B tests of artwork policies with always-valid intervals and a guardrail.

    A running server follows a create, start or stop made here within a second.
    """


def _experiments(data_dir: Path):
    """The data directory's store and its ``Experiments``."""
    from .candidates import CandidateArmModels
    from .experiments import Experiments

    settings = settings_for(data_dir)
    store = open_store_or_fail(settings)
    return store, Experiments(settings, store, candidates=CandidateArmModels(settings, store))


def _or_fail(call):
    """Run ``call``; a refusal (``ServiceError``) becomes the command's error message."""
    from .errors import ServiceError

    try:
        return call()
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None


def _vw_args(ctx, param, values: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for value in values:
        name, sep, args = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r}: NAME=VW_ARGS, the candidate arm's name then its arguments")
        found[name] = args
    return found


def _arm(ctx, param, values: tuple[str, ...]) -> list[dict]:
    arms = []
    for value in values:
        name, _, rest = value.partition("=")
        policy, _, share = rest.partition(":")
        try:
            arms.append({"name": name, "policy": policy, "share": float(share) if share else 1.0})
        except ValueError:
            raise click.BadParameter(f"{value!r}: NAME=POLICY[:SHARE], the share a number") from None
    return arms


def _show(report: dict) -> None:
    """An experiment's results as text."""
    pct = lambda v: "n/a" if v is None else f"{v:+.1%}"  # noqa: E731
    rate = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    click.echo(f"experiment {report['name']}: {report['state']}, control {report['control']}, "
               f"guardrail margin {report['guardrail']['margin']:.0%}")
    for arm in report["arms"]:
        ci = arm["click_rate_ci"]
        line = (f"  {arm['name']:<16} {arm['policy']:<9} people {arm['people']:>6}  decisions {arm['decisions']:>7}  "
                f"click rate {rate(arm['click_rate'])} [{rate(ci['ci_low'])}, {rate(ci['ci_high'])}]  "
                f"quality plays {rate(arm['quality_play_rate'])}")
        if "lift" in arm:
            lift = arm["lift"]
            line += (f"  lift {pct(lift['value'])} [{pct(lift['ci_low'])}, {pct(lift['ci_high'])}] (fixed-horizon "
                     f"[{pct(lift['fixed_ci_low'])}, {pct(lift['fixed_ci_high'])}])")
        if arm["policy"] == "candidate":
            model = arm["model"]
            if model is None:
                line += f"\n    model: {arm['vw_args']} (deleted: the arm no longer serves)"
            else:
                line += (f"\n    model: {arm['vw_args']}; learned up to event {model['learned']}, {model['behind']} "
                         "queued events behind")
        if arm["stopped"]:
            stop = arm["stopped"]
            line += f"\n    STOPPED by {stop['stopped_by']}: {stop['reason']}"
        click.echo(line)


@experiment.command("create")
@data_dir_option
@click.argument("name")
@click.option("--arm", "arms", multiple=True, required=True, callback=_arm, metavar="NAME=POLICY[:SHARE]",
              help="An arm: its name, its policy (bandit, default, uniform, candidate) and its share (default 1, "
                   "relative to the others'). Repeat for each arm (2 to 10).")
@click.option("--vw-args", "vw_args", multiple=True, callback=_vw_args, metavar="NAME=VW_ARGS",
              help="A candidate arm's Vowpal Wabbit arguments (with --cb_explore_adf): its model learns the whole "
                   "log off-policy and its arm draws from it. Once per candidate arm.")
@click.option("--control", default=None, help="The control arm (default: the first).")
@click.option("--margin", "guardrail_margin", default=None, type=click.FloatRange(0, 1, max_open=True),
              help="Guardrail margin: an arm whose click rate is below control's by more than this share, by its "
                   "95% confidence sequence, is stopped (default 0.05).")
def experiment_create(data_dir: Path, name: str, arms: list[dict], vw_args: dict[str, str], control: str | None,
                      guardrail_margin):
    """Define experiment NAME (it runs once started)."""
    unknown = sorted(set(vw_args) - {arm["name"] for arm in arms})
    if unknown:
        raise click.BadParameter(f"--vw-args names no arm: {', '.join(unknown)}")
    arms = [{**arm, "vw_args": vw_args[arm["name"]]} if arm["name"] in vw_args else arm for arm in arms]
    _, experiments = _experiments(data_dir)
    _show(_or_fail(lambda: experiments.create(name, arms, control, guardrail_margin)))


@experiment.command("start")
@data_dir_option
@click.argument("name")
def experiment_start(data_dir: Path, name: str):
    """Start experiment NAME: people are assigned to its arms from now on (one runs at a time)."""
    _, experiments = _experiments(data_dir)
    _show(_or_fail(lambda: experiments.start(name)))


@experiment.command("stop")
@data_dir_option
@click.argument("name")
@click.option("--reason", default="stopped by hand", show_default=True, help="Why (recorded with the stop).")
def experiment_stop(data_dir: Path, name: str, reason: str):
    """Stop experiment NAME: everyone is served the live bandit again; the results stay."""
    import getpass

    _, experiments = _experiments(data_dir)
    _show(_or_fail(lambda: experiments.stop(name, f"cli ({getpass.getuser()})", reason)))


@experiment.command("list")
@data_dir_option
def experiment_list(data_dir: Path):
    """Every experiment, newest first."""
    _, experiments = _experiments(data_dir)
    for row in experiments.list():
        arms = ", ".join(f"{a['name']}={a['policy']}:{a['share']:g}" for a in row["arms"])
        stopped = f"  stopped arms: {', '.join(row['stopped_arms'])}" if row["stopped_arms"] else ""
        click.echo(f"{row['name']:<32} {row['state']:<8} control {row['control']:<16} {arms}{stopped}")


@experiment.command("report")
@data_dir_option
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON (with offline beside live).")
def experiment_report(data_dir: Path, name: str, as_json: bool):
    """Results of experiment NAME: per arm people, decisions, click and quality-play rates, the lift over
    control with its always-valid 95% interval (the person as the unit), the guardrail's stops, and
    for each arm what offline evaluation (SNIPS, on the other arms' log) said beside what it earned live."""
    import json

    from artwork.simulations.experiment import offline_beside_live

    from .catalog import Catalog

    store, experiments = _experiments(data_dir)
    report = _or_fail(lambda: experiments.report(name))
    settings = settings_for(data_dir)
    offline = offline_beside_live(store, settings.vw_args, settings.propensity_floor, report, Catalog(store, 60.0))
    if as_json:
        click.echo(json.dumps({**report, "offline_beside_live": offline}, indent=2))
        return
    _show(report)
    click.echo("offline beside live (SNIPS on the other arms' final decisions, learning arms scored progressively; "
               "live: 95% confidence sequence):")
    rate = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    for row in offline:
        size = "n/a" if row["effective_sample_size"] is None else round(row["effective_sample_size"])
        click.echo(f"  {row['arm']:<16} offline said {rate(row['offline_value'])} [{rate(row['offline_ci_low'])}, "
                   f"{rate(row['offline_ci_high'])}] (support {rate(row['support'])}, effective sample size {size}), "
                   f"live says {rate(row['live_click_rate'])} [{rate(row['live_ci_low'])}, "
                   f"{rate(row['live_ci_high'])}]")


@experiment.command("simulate")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for report.json, report.md and the log (created; must not hold an earlier run).")
@click.option("--visitors", default=4000, show_default=True, type=click.IntRange(min=10), help="Simulated requests.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Seed of the run.")
@click.option("--world-seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seed of the synthetic world.")
@click.option("--candidate", metavar="VW_ARGS", default=None,
              help="Run the live bandit (control, arm live) against a candidate arm (arm candidate) of these VW "
                   "arguments, instead of personalized against default.")
def experiment_simulate(out_dir: Path, visitors: int, seed: int, world_seed: int, candidate: str | None):
    """Run an experiment in the synthetic world through the service's own code: personalized
    against default, or with --candidate the live bandit against a candidate arm.

    Writes OUT/report.json (arms, the lift with its interval and the world's true lift, a
    candidate's VW arguments and how far its model learned) and OUT/report.md.
    """
    from artwork.simulations.experiment import run_experiment

    try:  # _or_fail: the candidate's VW arguments refused (experiments.check_definition)
        _or_fail(lambda: run_experiment(out_dir, visitors=visitors, seed=seed, world_seed=world_seed,
                                        candidate=candidate))
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo((out_dir / "report.md").read_text())
    click.echo(f"Report: {out_dir / 'report.json'}, {out_dir / 'report.md'}")
