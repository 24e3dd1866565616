"""``drawverify``: the command line of the independent verifier.

Exit codes: 0 everything verified; 1 something failed verification (each finding printed
with what, where, expected, actual); 2 the input is unusable (missing file, wrong format,
unreachable server) — always a message, never a traceback.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click
from nacl.signing import SigningKey

from .drand import Chain, chain_from_info
from .draw import DrawOptions, check_bundle_shape, load_draw_bundle, load_draw_source, verify_bundle
from .findings import CODES, Finding, Report
from .log import LogOptions, verify_log
from .merkle import verify_consistency
from .note import (
    ALG_COSIGNATURE_V1,
    NoteError,
    format_private_key,
    key_id,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    verify_cosignature,
    verify_note,
)
from .render import LANGS, summary_lines, to_text
from .sm2 import parse_sm2_key, verify_sm2_line
from .sources import ServerClient, SourceError, load_bundle, read_json_file
from .subject import subject_report, subject_text
from .witness import Witness, WitnessKey, WitnessRefusal, load_witness_key, make_server, witness_once

__all__ = ["main"]


def _die(msg: str, code: int = 2) -> NoReturn:
    click.echo(f"drawverify: error: {msg}", err=True)
    sys.exit(code)


LANG_KEY = "drawverify.lang"


def _set_lang(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        ctx.meta[LANG_KEY] = value  # meta is shared by the group's and the command's contexts
    return value


#: `--lang zh|en` (or DRAWVERIFY_LANG), before or after the command; Simplified Chinese by default.
lang_option = click.option("--lang", type=click.Choice(LANGS), envvar="DRAWVERIFY_LANG", expose_value=False,
                           callback=_set_lang, is_eager=True,
                           help="报告语言：zh 简体中文（默认）或 en 英文 / language of the report")


def _lang() -> str:
    ctx = click.get_current_context(silent=True)
    return str(ctx.meta.get(LANG_KEY, "zh")) if ctx is not None else "zh"


def _emit(report: Report, as_json: bool) -> NoReturn:
    """The report: JSON for machines; else a summary an auditor reads first, then every check."""
    if as_json:
        click.echo(report.to_json())
    elif _lang() == "en":
        click.echo("\n".join(summary_lines(report.to_dict(), "en")) + "\n\n" + report.to_text())
    else:
        click.echo(to_text(report.to_dict(), "zh"))
    sys.exit(report.exit_code)


#: `--witness-policy FILE`: the reader's own witness policy, the §D12 `witness_policy` form.
policy_option = click.option("--witness-policy", "witness_policy", type=click.Path(dir_okay=False),
                             help="JSON file {\"k\": K, \"witnesses\": [verifier keys (0x04)]}: K of these "
                                  "witnesses must have cosigned the newest checkpoint (fewer: awaiting witnesses, "
                                  "exit 4); replaces a bundle's own policy")


def _progress(as_json: bool) -> bool:
    return not as_json and sys.stderr.isatty()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="spotcheck", prog_name="drawverify")
@lang_option
def cli() -> None:
    """Independent verifier for the spot-check service: checks the log, its checkpoints and
    its draws without trusting the server."""


@cli.command("log")
@click.option("--server", help="base URL of a live service (reads the JSON API)")
@click.option("--file", "file_", type=click.Path(dir_okay=False), help="offline bundle (JSON)")
@click.option("--tiles", help="URL prefix (or directory) of the log's static tlog-tiles files: "
                              "checkpoint and tile/... only, as `drawsvc log export-tiles` writes them")
@click.option("--log-key", help="pinned log verifier key <name>+<hash>+<key> (trust anchor)")
@click.option("--witness", "witnesses", multiple=True, help="witness verifier key (0x04); repeatable")
@click.option("--min-witnesses", type=int, help="cosignatures required on the latest checkpoint (default: all)")
@policy_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable report")
@click.option("--workers", type=int, help="signature worker processes (default: every core)")
@lang_option
def log_cmd(server: str | None, file_: str | None, tiles: str | None, log_key: str | None,
            witnesses: tuple[str, ...], min_witnesses: int | None, witness_policy: str | None, as_json: bool,
            workers: int | None) -> None:
    """Verify a whole log: entries, keys, chain, tree, checkpoints, consistency."""
    if sum(map(bool, (server, file_, tiles))) != 1:
        _die("give exactly one of --server URL, --tiles URL or --file F")
    witnesses, min_witnesses = _with_policy(witnesses, min_witnesses, witness_policy)
    opts = LogOptions(log_key=log_key, witnesses=witnesses, min_witnesses=min_witnesses,
                      progress=_progress(as_json), workers=workers)
    try:
        if file_:
            b = load_bundle(file_)
            opts.start = b.start
            opts.consistency_proofs = b.consistency_proofs
            report = verify_log(b.entries, b.checkpoints, total=len(b.entries), options=opts,
                                subject=f"log bundle {file_}")
        elif tiles:
            report = _verify_tiles(tiles, opts)
        else:
            assert server is not None
            report = _verify_server(server, opts)
    except SourceError as exc:
        _die(str(exc))
    except ValueError as exc:
        _die(str(exc))
    _emit(report, as_json)


def _verify_server(server: str, opts: LogOptions) -> Report:
    client = ServerClient(server)
    latest = client.checkpoint()
    try:
        size = parse_checkpoint(parse_note(latest).text).size
    except NoteError as exc:
        raise SourceError(f"{server}/checkpoint is not a signed checkpoint: {exc}") from exc
    opts.served_log_key = client.log_key()["verifier_key"]
    cps = [*client.checkpoints(), latest]
    opts.fetch_consistency = client.consistency
    opts.fetch_inclusion = client.inclusion
    why = client.tiles_available(size)
    source: Any = client.leaves(0, size) if why is None else client.entries(0, size)
    report = verify_log(source, cps, total=size, options=opts, subject=f"log at {server}")
    report.info["read_from"] = ("raw leaves from the tlog-tiles entry bundles (GET /tile/entries/...)" if why is None
                                else f"the JSON API (tiles unavailable: {why}); stored leaf bytes not seen")
    got = report.info.get("entries", 0)
    src = report.check("source", "entries read from the source")
    if got != size:
        src.fail(Finding("SOURCE_INCOMPLETE", "GET /tile/entries" if why is None else "GET /api/v1/log/entries",
                         "the server gave a different number of entries than its latest checkpoint covers",
                         size, got))
    return report


def _verify_tiles(base: str, opts: LogOptions) -> Report:
    """A log from its static tiles alone: the latest checkpoint, the entry bundles, the hash
    tiles. No older checkpoints and no proofs are served there; the tree is recomputed whole."""
    from .tiles import HashTileChecker, TileSource

    source = TileSource(base)
    latest = source.checkpoint()
    try:
        size = parse_checkpoint(parse_note(latest).text).size
    except NoteError as exc:
        raise SourceError(f"{base}/checkpoint is not a signed checkpoint: {exc}") from exc
    if not opts.log_key:
        click.echo("note: no --log-key pinned: a static host can serve any log; trusting the key its genesis "
                   "entry declares", err=True)
    unreadable: list[str] = []
    checker = HashTileChecker(source, size)
    report = verify_log(checker.wrap(source.leaves(size, unreadable)), [latest], total=size, options=opts,
                        subject=f"log tiles at {base}")
    report.info["read_from"] = "static tlog-tiles files: checkpoint, entry bundles, hash tiles"
    got = report.info.get("entries", 0)
    src = report.check("source", "entries read from the source")
    for path in unreadable:
        src.fail(Finding("TILE_MISSING", path, "an entry bundle the checkpoint requires is absent or does not decode"))
    if got != size:
        src.fail(Finding("SOURCE_INCOMPLETE", "tile/entries", "the entry bundles hold a different number of entries "
                         "than the checkpoint covers", size, got))
    checker.finish(got, report)
    return report


def _with_policy(witnesses: tuple[str, ...], min_witnesses: int | None, policy_file: str | None
                 ) -> tuple[tuple[str, ...], int | None]:
    """--witness-policy FILE as witness keys and k (exit 2 with a message when the file is not a
    policy). Why one file: a reader keeps the witnesses it trusts, and how many, in one place."""
    if policy_file is None:
        return witnesses, min_witnesses
    if witnesses or min_witnesses is not None:
        _die("give either --witness-policy FILE or --witness/--min-witnesses, not both")
    try:
        wp = json.loads(_read(policy_file))
    except ValueError as exc:
        _die(f"--witness-policy {policy_file}: not JSON ({exc})")
    if not isinstance(wp, dict) or type(wp.get("k")) is not int or not isinstance(wp.get("witnesses"), list) \
            or not wp["witnesses"] or not all(isinstance(w, str) for w in wp["witnesses"]):
        _die(f"--witness-policy {policy_file}: must be {{\"k\": integer, \"witnesses\": [verifier keys]}}")
    names: set[str] = set()
    for w in wp["witnesses"]:
        try:
            k = parse_verifier_key(w)
        except NoteError as exc:
            _die(f"--witness-policy {policy_file}: witness key {w[:60]!r}: {exc}")
        if k.alg != 0x04:
            _die(f"--witness-policy {policy_file}: {k.name} is not a cosignature/v1 (0x04) key")
        if k.name in names:
            _die(f"--witness-policy {policy_file}: witness {k.name} is named twice")
        names.add(k.name)
    if not 1 <= wp["k"] <= len(wp["witnesses"]):
        _die(f"--witness-policy {policy_file}: k = {wp['k']} is not between 1 and the {len(wp['witnesses'])} "
             "witnesses named")
    return tuple(wp["witnesses"]), wp["k"]


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _die(f"cannot read {path}: {exc}")


@cli.command("checkpoint")
@click.argument("note_file", type=click.Path(dir_okay=False))
@click.option("--log-key", required=True, help="log verifier key the checkpoint must be signed by")
@click.option("--old", "old_file", type=click.Path(dir_okay=False), help="an older checkpoint it must extend")
@click.option("--proof", "proof_file", type=click.Path(dir_okay=False),
              help='consistency proof JSON {"proof": [b64...]} (else fetched with --server)')
@click.option("--server", help="fetch the consistency proof from this service")
@click.option("--witness", "witnesses", multiple=True, help="witness verifier key (0x04); repeatable")
@click.option("--min-witnesses", type=int)
@policy_option
@click.option("--sm2-key", help="the log's SM2 (国密) verifier key: its line must be on the note (SPEC §5.1)")
@click.option("--json", "as_json", is_flag=True)
@lang_option
def checkpoint_cmd(note_file: str, log_key: str, old_file: str | None, proof_file: str | None, server: str | None,
                   witnesses: tuple[str, ...], min_witnesses: int | None, witness_policy: str | None,
                   sm2_key: str | None, as_json: bool) -> None:
    """Verify a checkpoint note, and optionally that it extends an older one. Fewer valid witness
    cosignatures than the policy's k is awaiting witnesses (exit 4), not a failure; a line that
    does not verify is."""
    witnesses, min_witnesses = _with_policy(witnesses, min_witnesses, witness_policy)
    try:
        key = parse_verifier_key(log_key)
        wkeys = [parse_verifier_key(w) for w in witnesses]
        skey = parse_sm2_key(sm2_key) if sm2_key else None
    except NoteError as exc:
        _die(f"bad key: {exc}")
    report = Report(f"checkpoint {note_file}")

    def load(path: str, label: str) -> Any:
        try:
            note = parse_note(_read(path))
            return note, parse_checkpoint(note.text)
        except NoteError as exc:
            report.check(f"{label}_format", f"{label} checkpoint format").fail(
                Finding("CHECKPOINT_MALFORMED", path, str(exc)))
            _emit(report, as_json)

    note, cp = load(note_file, "new")
    report.info["checkpoint"] = f"{cp.origin} size {cp.size} root {base64.b64encode(cp.root).decode()}"
    sig = report.check("signature", "signed by the log key")
    if cp.origin != key.name:
        sig.fail(Finding("CHECKPOINT_ORIGIN_MISMATCH", note_file, "origin is not the log key's name", key.name,
                         cp.origin))
    ok = verify_note(note, key)
    if not ok:
        sig.fail(Finding("CHECKPOINT_SIGNATURE_INVALID", note_file,
                         "no signature by the log key" if ok is None else "log signature does not verify",
                         str(key), ", ".join(s.name for s in note.signatures)))
    if skey is not None:
        sm2c = report.check("sm2", "the SM2 (国密) line by the given key")
        sm2ok = verify_sm2_line(note, skey)
        if not sm2ok:
            sm2c.fail(Finding("SM2_SIGNATURE_MISSING" if sm2ok is None else "SM2_SIGNATURE_INVALID", note_file,
                              "no SM2 line by that key" if sm2ok is None else "the SM2 line does not verify",
                              str(skey), ", ".join(f"{s.name}/{s.key_hash.hex()}" for s in note.signatures)))
    cons = report.check("consistency", "extends the older checkpoint")
    if old_file:
        onote, ocp = load(old_file, "old")
        if not verify_note(onote, key):
            cons.fail(Finding("CHECKPOINT_SIGNATURE_INVALID", old_file, "old checkpoint not signed by the log key"))
        proof: list[bytes] | None = None
        try:
            if proof_file:
                proof = [base64.b64decode(p, validate=True) for p in json.loads(_read(proof_file))["proof"]]
            elif server and ocp.size < cp.size:
                proof = ServerClient(server).consistency(ocp.size, cp.size)
            elif ocp.size < cp.size:
                _die("give --proof FILE or --server URL to check consistency")
            else:
                proof = []
        except SourceError as exc:
            _die(str(exc))
        except (ValueError, KeyError, TypeError) as exc:
            _die(f"{proof_file}: not a consistency proof file ({exc})")
        if ocp.origin != cp.origin or not verify_consistency(ocp.size, cp.size, ocp.root, cp.root, proof or []):
            cons.fail(Finding("INCONSISTENT_CHECKPOINTS", f"{old_file} -> {note_file}",
                              "the newer checkpoint is not an append-only extension of the older one",
                              f"extension of size {ocp.size} root {base64.b64encode(ocp.root).decode()}",
                              f"size {cp.size} root {base64.b64encode(cp.root).decode()}"))
    else:
        cons.skip("no --old checkpoint given")
    wit = report.check("witnesses", "witness cosignatures")
    if wkeys:
        valid = []
        for k in wkeys:
            wok, t = verify_cosignature(note, k)
            if wok is False:
                wit.fail(Finding("COSIGNATURE_INVALID", note_file, f"cosignature by {k.name} does not verify"))
            elif wok:
                valid.append(f"{k.name}@{t}")
        need = min_witnesses if min_witnesses is not None else len(wkeys)
        report.info["cosigned_by"] = valid
        if len(valid) < need:
            have = {v.rsplit("@", 1)[0] for v in valid}
            report.awaiting_witnesses(wit, size=cp.size, k=need, valid=valid,
                                      missing=[k.name for k in wkeys if k.name not in have])
        else:
            wit.detail = f"{len(valid)} valid cosignatures (need {need})"
    else:
        wit.skip("no witness policy given (--witness-policy FILE or --witness KEY): witness cosignatures not checked")
    _emit(report, as_json)


@cli.group("witness", invoke_without_command=True)
@click.option("--server", help="base URL of the service to witness (pull mode)")
@click.option("--state", "state_dir", type=click.Path(file_okay=False), help="witness state directory")
@click.option("--key", "key_file", type=click.Path(dir_okay=False), help="key file from keygen")
@click.option("--log-key", "log_keys", multiple=True, help="log verifier key(s) to trust (default: first seen)")
@click.option("--once", is_flag=True, help="poll once and exit")
@click.option("--interval", type=float, default=10.0, show_default=True, help="seconds between polls")
@click.pass_context
def witness_cmd(ctx: click.Context, server: str | None, state_dir: str | None, key_file: str | None,
                log_keys: tuple[str, ...], once: bool, interval: float) -> None:
    """A C2SP tlog-witness. Without a subcommand: pull mode (fetch the service's checkpoints,
    cosign them while they stay append-only, refuse loudly otherwise); `witness serve` is the
    HTTP service a log pushes its checkpoints to (POST /add-checkpoint)."""
    if ctx.invoked_subcommand is not None:
        return
    if not server or not state_dir or not key_file:
        _die("drawverify witness needs --server, --state and --key (or a subcommand: serve)")
    try:
        key: WitnessKey = load_witness_key(key_file)
        client = ServerClient(server)
    except SourceError as exc:
        _die(str(exc))
    state = Path(state_dir)
    while True:
        try:
            click.echo(f"drawverify witness: {witness_once(client, state, key, list(log_keys))}")
        except WitnessRefusal as exc:
            bar = "!" * 72
            click.echo(f"{bar}\nWITNESS REFUSES TO COSIGN: {exc}\nevidence kept in {exc.evidence}\n{bar}", err=True)
            sys.exit(1)
        except SourceError as exc:
            if once:
                _die(str(exc))
            click.echo(f"drawverify witness: warning: {exc}", err=True)
        if once:
            return
        time.sleep(interval)


@witness_cmd.command("serve")
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False), help="witness state directory")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False), help="key file from keygen")
@click.option("--log", "logs", multiple=True, help="verifier key of a log to witness (its name is the origin); "
              "repeatable, kept in the state")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=7380, show_default=True)
@click.option("--prefix", default="", help="submission prefix (POST <prefix>/add-checkpoint)")
def witness_serve_cmd(state_dir: str, key_file: str, logs: tuple[str, ...], host: str, port: int,
                      prefix: str) -> None:
    """Serve C2SP tlog-witness: POST <prefix>/add-checkpoint; state and fork evidence in --state."""
    try:
        w = Witness(state_dir, load_witness_key(key_file))
        for k in logs:
            w.trust(k)
    except (SourceError, NoteError) as exc:
        _die(str(exc))
    except OSError as exc:
        _die(f"cannot use state directory {state_dir}: {exc}")
    if not w._db().execute("SELECT 1 FROM log_keys").fetchone():
        _die("no log to witness: give --log <log verifier key>")
    try:
        httpd = make_server(w, host, port, prefix)
    except OSError as exc:
        _die(f"cannot listen on {host}:{port}: {exc}")
    click.echo(f"drawverify witness {w.key.name}: POST http://{host}:{httpd.server_address[1]}"
               f"{prefix.rstrip('/')}/add-checkpoint")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


@cli.command("keygen")
@click.option("--name", required=True, help="witness key name, e.g. witness.example.org/w1")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="private key file to write")
def keygen_cmd(name: str, out: str) -> None:
    """Make a witness (cosignature/v1) key; prints its verifier key, also written to OUT.pub."""
    if not name or any(c.isspace() or c == "+" for c in name):
        _die("key name must be non-empty, without spaces or '+'")
    p = Path(out)
    if p.exists():
        _die(f"{out} exists; not overwriting a key")
    sk = SigningKey.generate()
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(format_private_key(name, ALG_COSIGNATURE_V1, bytes(sk)) + "\n")
        pub = bytes(sk.verify_key)
        vkey = f"{name}+{key_id(name, ALG_COSIGNATURE_V1, pub).hex()}+" \
               f"{base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + pub).decode()}"
        Path(str(p) + ".pub").write_text(vkey + "\n")
    except OSError as exc:
        _die(f"cannot write {out}: {exc}")
    click.echo(vkey)


@cli.command("witness-rotate")
@click.option("--key", "old_file", required=True, type=click.Path(dir_okay=False), help="the witness's current key file")
@click.option("--new-key", "new_file", required=True, type=click.Path(dir_okay=False),
              help="the new key file (from keygen, same name)")
def witness_rotate_cmd(old_file: str, new_file: str) -> None:
    """Print the statement (JSON) a witness hands the operator to rotate its key on the log
    (docs/SPEC.md §3 item 9): both keys sign it, so the operator cannot substitute a key."""
    from .canonical import jcs

    try:
        old, new = load_witness_key(old_file), load_witness_key(new_file)
    except SourceError as exc:
        _die(str(exc))
    if old.name != new.name:
        _die(f"the new key is named {new.name!r}, the current one {old.name!r}: a witness keeps its name")
    if bytes(old.sk.verify_key) == bytes(new.sk.verify_key):
        _die("the new key is the current key")
    body = {"name": old.name, "old_verifier_key": str(old.verifier_key),
            "new_verifier_key": str(new.verifier_key)}
    msg = jcs(body)
    click.echo(json.dumps({**body, "old_key_sig": base64.b64encode(old.sk.sign(msg).signature).decode(),
                           "new_key_sig": base64.b64encode(new.sk.sign(msg).signature).decode()}))


@cli.command("codes")
def codes_cmd() -> None:
    """List every finding code and what it means."""
    for k, v in CODES.items():
        click.echo(f"{k:30} {v}")


def trusted_chains(files: tuple[str, ...]) -> list[Chain]:
    """--trust-chain FILE: drand /info documents of networks trusted beyond the pinned ones; each
    must hash to the chain hash it states. An unusable file is bad input (exit 2)."""
    out = []
    for f in files:
        try:
            out.append(chain_from_info(read_json_file(f)))
        except ValueError as exc:
            raise SourceError(f"--trust-chain {f}: {exc}") from exc
    return out


def _draw_options(log_key: str | None, witnesses: tuple[str, ...], min_witnesses: int | None,
                  full_log: str | None, trust_chain: tuple[str, ...] = (),
                  witness_policy: str | None = None) -> DrawOptions:
    witnesses, min_witnesses = _with_policy(witnesses, min_witnesses, witness_policy)
    opts = DrawOptions(log_key=log_key, witnesses=witnesses, min_witnesses=min_witnesses,
                       trusted_chains=trusted_chains(trust_chain))
    if full_log:
        b = load_bundle(full_log)
        opts.full_log = [_parsed(e) for e in b.entries]
        opts.full_log_label = f"the log file {full_log}"
    return opts


def _parsed(e: Any) -> Any:
    if isinstance(e, bytes | bytearray):
        try:
            return json.loads(e)
        except ValueError:
            return None
    return e


def _server_bundle(server: str, draw_id: str, scan: bool, opts: DrawOptions) -> dict[str, Any]:
    client = ServerClient(server)
    bundle = client.draw_bundle(draw_id, parts=True)
    check_bundle_shape(bundle, f"{server}/api/v1/draws/{draw_id}/bundle")
    if "pool_parts" in bundle:  # the subject pool in parts (§D12.1): fetched one part at a time
        opts.pool_part = lambda n: client.pool_part(draw_id, n)
    if scan:
        size = int(bundle["log"]["checkpoint"].get("size") or 0)
        opts.full_log = list(client.entries(0, size))
        opts.full_log_label = f"the log at {server} (entries 0..{size}, as served)"
    return bundle


_bundle_opts = [
    lang_option,
    click.option("--json", "as_json", is_flag=True, help="machine-readable report"),
    click.option("--log-key", help="pinned log verifier key (default: the key the bundle declares, said so)"),
    click.option("--witness", "witnesses", multiple=True, help="witness verifier key (0x04); repeatable"),
    click.option("--min-witnesses", type=int, help="witnesses required on the checkpoints (default: all given; "
                 "0 for the prepared checkpoint)"),
    policy_option,
    click.option("--trust-chain", "trust_chain", multiple=True, type=click.Path(dir_okay=False),
                 help="a drand network's /info JSON to trust besides the pinned League of Entropy default and "
                 "quicknet (its parameters must hash to its chain hash); repeatable"),
]


def _with(opts: list[Any]) -> Any:
    def deco(f: Any) -> Any:
        for o in reversed(opts):
            f = o(f)
        return f
    return deco


@cli.command("bundle")
@click.argument("file_", metavar="FILE_OR_DIR", type=click.Path())
@click.option("--full-log", type=click.Path(dir_okay=False),
              help="a full log file (drawverify log bundle) to search for draws of the plan the bundle leaves out")
@_with(_bundle_opts)
def bundle_cmd(file_: str, full_log: str | None, as_json: bool, log_key: str | None, witnesses: tuple[str, ...],
               min_witnesses: int | None, witness_policy: str | None, trust_chain: tuple[str, ...]) -> None:
    """Verify a draw evidence bundle offline (GET /api/v1/draws/<id>/bundle saved to FILE, or the
    directory `drawsvc draw bundle --split` writes: bundle.json and the subject pool's parts)."""
    try:
        opts = _draw_options(log_key, witnesses, min_witnesses, full_log, trust_chain, witness_policy)
        bundle, opts.pool_part = load_draw_source(file_)
        report, _ = verify_bundle(bundle, opts)
    except SourceError as exc:
        _die(str(exc))
    _emit(report, as_json)


@cli.command("draw")
@click.option("--server", required=True, help="base URL of the service")
@click.option("--id", "draw_id", required=True, help="draw id")
@click.option("--scan-log/--no-scan-log", default=True, show_default=True,
              help="read the whole log to find draws of the same plan the bundle leaves out")
@_with(_bundle_opts)
def draw_cmd(server: str, draw_id: str, scan_log: bool, as_json: bool, log_key: str | None,
             witnesses: tuple[str, ...], min_witnesses: int | None, witness_policy: str | None,
             trust_chain: tuple[str, ...]) -> None:
    """Fetch a draw's bundle from a live service and verify it."""
    try:
        opts = _draw_options(log_key, witnesses, min_witnesses, None, trust_chain, witness_policy)
        bundle = _server_bundle(server, draw_id, scan_log, opts)
        report, _ = verify_bundle(bundle, opts)
    except SourceError as exc:
        _die(str(exc))
    _emit(report, as_json)


@cli.command("subject")
@click.argument("code")
@lang_option
@click.option("--draw", "draw_id", required=True, help="draw id")
@click.option("--server", help="base URL of the service")
@click.option("--bundle", "bundle_file", type=click.Path(), help="a saved bundle file (or bundle directory)")
@click.option("--json", "as_json", is_flag=True)
@click.option("--log-key", help="pinned log verifier key")
@click.option("--trust-chain", "trust_chain", multiple=True, type=click.Path(dir_okay=False),
              help="a drand network's /info JSON to trust besides the pinned ones; repeatable")
@click.option("--proof", "proof_mode", is_flag=True,
              help="with --server: fetch only the subject's proof document (a few KB, SPEC §D15), not the bundle")
@click.option("--proof-file", "proof_file", type=click.Path(dir_okay=False), help="a saved subject proof document")
@policy_option
def subject_cmd(code: str, draw_id: str, server: str | None, bundle_file: str | None, as_json: bool,
                log_key: str | None, trust_chain: tuple[str, ...], proof_mode: bool, proof_file: str | None,
                witness_policy: str | None) -> None:
    """Was this subject (unified social credit code) drawn, and why? Plain Chinese + English."""
    witnesses, k = _with_policy((), None, witness_policy)
    if proof_mode or proof_file:
        if bool(server) == bool(proof_file) or bundle_file:
            _die("--proof needs --server URL; --proof-file FILE stands alone")
        _subject_by_proof(code, draw_id, server, proof_file, as_json, log_key, trust_chain,
                          {"k": k, "witnesses": list(witnesses)} if witness_policy else None)
    if bool(server) == bool(bundle_file):
        _die("give exactly one of --server URL or --bundle FILE")
    try:
        opts = DrawOptions(log_key=log_key, trusted_chains=trusted_chains(trust_chain), witnesses=witnesses,
                           min_witnesses=k, find_subjects=(code,))
        if server:
            bundle = _server_bundle(server, draw_id, False, opts)
        else:
            bundle, opts.pool_part = load_draw_source(str(bundle_file))
        if bundle["draw_id"] != draw_id:
            _die(f"the bundle is of draw {bundle['draw_id']}, not {draw_id}")
        report, st = verify_bundle(bundle, opts)
    except SourceError as exc:
        _die(str(exc))
    d = subject_report(report, st, code)
    if as_json:
        d["failed_checks"] = [c.name for c in report.checks.values() if c.status == "failed"]
        d["findings"] = [f.render() for f in report.findings]
        click.echo(json.dumps(d, ensure_ascii=False, indent=2))
    else:
        click.echo(subject_text(d))
        if not report.ok:
            click.echo("\n" + "\n".join(f.render() for f in report.findings))
    sys.exit(report.exit_code)


def _subject_by_proof(code: str, draw_id: str, server: str | None, proof_file: str | None, as_json: bool,
                      log_key: str | None, trust_chain: tuple[str, ...],
                      witness_policy: dict[str, Any] | None = None) -> NoReturn:
    """`drawverify subject --proof`: one company's check from its proof document alone (§D15)."""
    from urllib.parse import quote

    from .subject_proof import ProofShapeError, verify_subject_proof, verify_text

    try:
        chains = trusted_chains(trust_chain)
        if server:
            doc = ServerClient(server)._json(f"/api/v1/draws/{quote(draw_id, safe='')}/subjects/"
                                             f"{quote(code, safe='')}/proof")
        else:
            doc = read_json_file(str(proof_file))
        if isinstance(doc, dict) and (doc.get("draw_id") != draw_id or doc.get("subject") != code):
            _die(f"the proof is of {doc.get('subject')} in draw {doc.get('draw_id')}, not {code} in {draw_id}")
        report, facts = verify_subject_proof(doc, log_key=log_key, trusted_chains=chains,
                                             witness_policy=witness_policy)
    except (SourceError, ProofShapeError) as exc:
        _die(str(exc))
    if as_json:
        click.echo(json.dumps({"result": report.verdict, "facts": facts.to_json(), "report": report.to_dict()},
                              ensure_ascii=False, indent=2))
    else:
        click.echo(verify_text(report, facts, _lang()))
    sys.exit(report.exit_code)


def _matching_from_bundle(bundle: Any, where: str) -> Any:
    """The current matching of a draw, only from a bundle that verifies (else why not)."""
    try:
        check_bundle_shape(bundle, where)
    except SourceError as exc:
        return f"unusable bundle ({exc})"
    report, st = verify_bundle(bundle, DrawOptions())
    if not report.ok:
        return f"its bundle does not verify ({', '.join(sorted(report.codes()))}); run drawverify draw"
    if st.current is None:
        return "its bundle holds no published matching"
    return st.current


@cli.command("results")
@click.option("--server", help="base URL of a live service (raw leaves from the tiles, else the JSON API)")
@click.option("--file", "file_", type=click.Path(dir_okay=False), help="offline log (drawverify log bundle)")
@click.option("--bundle", "bundles", multiple=True, type=click.Path(dir_okay=False),
              help="a draw evidence bundle to match random tasks against (repeatable; --server fetches them)")
@click.option("--subject", "subject_code", help="only results about this unified social credit code")
@click.option("--log-key", help="pinned log verifier key")
@click.option("--no-log-check", is_flag=True, help="skip the log checks (signatures, chain, tree)")
@click.option("--no-draws", is_flag=True, help="do not fetch draw bundles from the server")
@click.option("--json", "as_json", is_flag=True, help="machine-readable report")
@lang_option
def results_cmd(server: str | None, file_: str | None, bundles: tuple[str, ...], subject_code: str | None,
                log_key: str | None, no_log_check: bool, no_draws: bool, as_json: bool) -> None:
    """Verify inspection results (docs/SPEC.md Part III): seals, state machine, who acted, categories,
    tasks against their draws, working-day deadlines."""
    from .results import ResultOptions, verify_results

    if bool(server) == bool(file_):
        _die("give exactly one of --server URL or --file F")
    opts = ResultOptions(subject=subject_code)
    matchings: dict[str, Any] = {}
    try:
        for bf in bundles:
            b = load_draw_bundle(bf)
            matchings[str(b.get("draw_id"))] = _matching_from_bundle(b, bf)
        cps: list[str] = []
        read_from = ""
        if file_:
            lb = load_bundle(file_)
            entries = list(lb.entries)
            cps = lb.checkpoints
            read_from = f"the file {file_}"
        else:
            assert server is not None
            client = ServerClient(server)
            latest = client.checkpoint()
            try:
                size = parse_checkpoint(parse_note(latest).text).size
            except NoteError as exc:
                _die(f"{server}/checkpoint is not a signed checkpoint: {exc}")
            why = client.tiles_available(size)
            entries = list(client.leaves(0, size) if why is None else client.entries(0, size))
            cps = [latest]
            read_from = (f"{server}: raw leaves from the entry tiles" if why is None else
                         f"{server}: the JSON API (tiles unavailable: {why})")
            if not no_draws:
                def fetch(did: str) -> Any:
                    try:
                        return _matching_from_bundle(client.draw_bundle(did), f"{server} bundle {did}")
                    except SourceError as exc:
                        return f"bundle not available ({exc})"
                opts.fetch_matching = fetch
        opts.draw_matchings = matchings
        title = f"inspection results in {read_from}" + (f" about {subject_code}" if subject_code else "")
        if no_log_check:
            report = Report(title)
            report.check("log", "log integrity").skip("--no-log-check: run drawverify log")
        else:
            report = verify_log(entries, cps, total=len(entries), options=LogOptions(log_key=log_key), subject=title)
        report.info["read_from"] = read_from
        verify_results(entries, opts, report=report)
    except SourceError as exc:
        _die(str(exc))
    except ValueError as exc:
        _die(str(exc))
    _emit(report, as_json)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``drawverify``)."""
    try:
        cli.main(args=argv, prog_name="drawverify", standalone_mode=True)
    except KeyboardInterrupt:
        _die("interrupted", 2)
