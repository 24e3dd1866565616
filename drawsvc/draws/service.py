"""The draw lifecycle: each step is one signed log entry written in the same transaction as
the row it changes (docs/SPEC.md §10).

    svc = DrawService(ledger, registry)
    d = svc.prepare(actor, plan="P2026-01", department="SCJ", sources=[{"type": "dice"}, ...])
    svc.seed(actor, d["id"], reveals=[{"type": "dice", "digits": "..."}, ...])
    svc.run(actor, d["id"])
    svc.substitute_inspector(actor, d["id"], subject, leaving, "recusal_conflict")
    svc.publish(actor, d["id"])

Confidentiality (002 八): the server nonce is committed at prepare and revealed only at
publication, so before publication nobody outside the service can compute the seed, the
tickets or the selection; the drawn list and every substitution are carried as salted
commitments until then.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import secrets
import sqlite3
import zlib
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from functools import partial
from itertools import compress
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection

from drawsvc.clock import china_date
from drawsvc.draw import (
    accel,
    check_recipe,
    commit_pool,
    derive_seed,
    nonce_commitment,
    run_draw,
    seal,
    strata_of,
    stratum_sizes,
    substitute_inspector,
    substitute_subject,
    swap_targets,
)
from drawsvc.draw.codec import ALGORITHM, ALGORITHM_V1
from drawsvc.draw.drand import ChainInfo, chain_from_json, round_time
from drawsvc.draw.errors import DrawError, NotNextEligible, SubstitutionInvalid, SwapInvalid
from drawsvc.draw.matching import Assignment, Inspector, MatchResult, candidates, gc_paused
from drawsvc.draw.parallel import MIN_PARALLEL, Pending
from drawsvc.draw.pool import (
    STREAM_CHUNK,
    LeafFold,
    NotInIdOrder,
    PoolCommitment,
    PoolInvalid,
    SubjectPool,
    _increasing,
    commit_subjects,
    group_by_stratum,
    subject_leaves,
)
from drawsvc.draw.relay import fetch_round
from drawsvc.draw.run import DrawResult
from drawsvc.draw.seal import seal_of_body
from drawsvc.draw.selection import StreamSelection, draw_subjects
from drawsvc.i18n import N_, tr
from drawsvc.raises import raises
from drawsvc.registry import schema as reg
from drawsvc.registry.authz import Actor, Forbidden
from drawsvc.registry.records import ACTIVE_SUBJECT_STATUSES
from drawsvc.registry.service import actor_id_for
from drawsvc.registry.state import get_record
from ledger import witnessing
from ledger.canonical import canonical_bytes
from ledger.entry import Entry, parse_time
from ledger.store import Ledger, StoredCheckpoint

from . import pool_parts, precheck, schema
from .inputs import SUBJECT_COLUMNS, DrawInputs, InputsError, PriorCheck, SubjectColumns, UnknownReference, build_inputs

NETWORKS_FILE = Path(__file__).resolve().parents[1] / "data" / "drand_networks.json"
PUBLIC_SOURCES = ("drand", "dice", "lottery", "witness")


# a draw's state in words, for messages (the pages use web.labels.DRAW_STATUS)
DRAW_STATE_WORDS = {"prepared": N_("已承诺"), "seeded": N_("种子已固定"), "drawn": N_("已抽取（保密）"), "published": N_("已公示"),
                    "aborted": N_("已中止")}


class DrawNotFound(LookupError):
    pass


class DrawStateError(ValueError):
    """The step is not allowed in the draw's current state (e.g. seeding twice)."""


def load_chains(path: Path = NETWORKS_FILE) -> dict[str, ChainInfo]:
    """drand networks known to this service, by chain hash (public parameters)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {c["chain_hash"]: chain_from_json(c) for c in data["chains"].values()}


def receipt(ledger: Ledger, entry: Entry, cp: StoredCheckpoint | None) -> dict[str, Any]:
    """The proof a client checks at once that a step's entry is in the log (SPEC §D11.7).

    Every step signs its checkpoint in the transaction that appends the entry, so `cp` is
    always there for the service's own steps; the shape is that of a §7 receipt."""
    if cp is None or cp.size <= entry.seq:
        raise RuntimeError(f"no checkpoint covers draw entry {entry.seq}: every step signs one in its transaction")
    return {"seq": entry.seq, "type": entry.type, "leaf_hash": _b64(entry.leaf_hash()), "tree_size": cp.size,
            "checkpoint": cp.note, "inclusion_proof": [_b64(h) for h in ledger.inclusion_proof(entry.seq, cp.size)]}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def match_from_json(data: Mapping[str, Any]) -> MatchResult:
    """The stored current matching back as the core's MatchResult."""
    return MatchResult([
        Assignment(a["subject"], list(a["team"]), [(x["inspector"], x["reason"]) for x in a["skipped"]],
                   a["examined"], list(a.get("experts", [])),
                   [(x["inspector"], x["reason"]) for x in a.get("experts_skipped", [])], a.get("experts_examined", 0))
        for a in data["assignments"]], dict(data.get("draw_ineligible", {})))


def inspectors_of(records: Sequence[Mapping[str, Any]]) -> list[Inspector]:
    return [Inspector.from_record(r) for r in records]


def rule_of(parameters: Mapping[str, Any]):  # type: ignore[no-untyped-def]
    from drawsvc.draw.matching import TeamRule

    t = parameters["team_rule"]
    return TeamRule(draw_date=t["draw_date"], departments=tuple(t["departments"]), team_size=t["team_size"],
                    qualification=t.get("qualification"), max_assignments=t.get("max_assignments"),
                    experts=t.get("experts", 0), expert_field=t.get("expert_field"))


def recompute(seed: bytes, doc: Mapping[str, Any], secret: Mapping[str, Any]) -> DrawResult:
    """The draw from its frozen inputs (what a verifier does too): every input it reads —
    experts and prior loads included — is one the prepared entry commits to."""
    p = doc["parameters"]
    pools = secret["pools"]
    subjects = pools["subjects"]  # {stratum: ids}, or records
    strata = subjects if isinstance(subjects, dict) else strata_of(subjects)
    result = run_draw(seed, strata, p["ratios"], inspectors_of(pools["inspectors"]),
                      rule_of(p), floor=p["floor"], key_item=p["key_item"],
                      conflicts=[tuple(c) for c in pools["conflicts"]], prior_load=pools.get("prior_load") or None,
                      experts=inspectors_of(pools.get("experts") or []))
    result.algorithm = doc.get("algorithm", ALGORITHM_V1)
    return result


def recompute_streamed(seed: bytes, doc: Mapping[str, Any], pools: Mapping[str, Any],
                       chunks: Iterator[tuple[list[str] | str | bytes, str]]) -> DrawResult | None:
    """recompute() over a streamed pool: the selection part by part (StreamSelection), from the
    counts the prepared entry committed (the stream checks the parts add up to them); None in
    the (never seen) case that a stratum's cut kept too few, for the caller to draw at once."""
    p = doc["parameters"]
    counts = doc["pools"]["subjects"]["counts"]
    sizes = stratum_sizes(counts, p["ratios"], p["floor"], p["key_item"])
    stream = StreamSelection(seed, counts, sizes)
    try:
        for ids, strata in chunks:
            stream.add(ids, strata)
        selection = stream.finish()
    finally:
        stream.cancel()
    if selection is None:
        return None
    from drawsvc.draw.matching import match_inspectors

    match = match_inspectors(seed, selection.matching_order, inspectors_of(pools["inspectors"]), rule_of(p),
                             [tuple(c) for c in pools["conflicts"]], pools.get("prior_load") or None,
                             inspectors_of(pools.get("experts") or []))
    return DrawResult(dict(sizes), selection, match, algorithm=doc.get("algorithm", ALGORITHM_V1))


def chains_of_doc(doc: Mapping[str, Any], known: Mapping[str, ChainInfo]) -> dict[str, ChainInfo]:
    """The drand parameters a draw uses: those its prepared entry committed (v2, re-checked
    against their chain hash), or for a v1 draw the service's network file."""
    committed = doc.get("chains")
    if committed is None:
        return dict(known)
    return {h: chain_from_json(c) for h, c in committed.items()}


def left_subject(substitutions: Sequence[Mapping[str, Any]], subject: str) -> list[str]:
    """Everyone who left `subject`'s team (or experts) by an earlier inspector substitution:
    under v2 (§D8) none of them may be drawn back to it."""
    return [r["leaving"] for r in (s["record"] for s in substitutions)
            if r["kind"] == "inspector" and r["subject"] == subject]


class DrawService:
    def __init__(self, ledger: Ledger, registry: Any, chains: Mapping[str, ChainInfo] | None = None,
                 relay_url: str | None = None) -> None:
        self.ledger = ledger
        self.registry = registry
        self.chains = dict(chains) if chains is not None else load_chains()
        self.relay_url = relay_url if relay_url is not None else os.environ.get("DRAWSVC_DRAND_RELAY") or None

    def _fill_from_relay(self, reveal: dict[str, Any]) -> dict[str, Any]:
        """A drand reveal given without its signature is fetched from the configured relay.

        The relay is not trusted: what it returns is verified against the network key like a
        round typed in by hand. Without a relay (no network, e.g. inside China) the operator
        enters the round's signature by hand.
        """
        if reveal.get("type") != "drand" or reveal.get("signature"):
            return reveal
        if not self.relay_url:
            raise DrawStateError(tr("该 drand 轮次没有签名，也没有配置中继（设置 DRAWSVC_DRAND_RELAY，或手工填写该轮签名）"))
        try:
            fetched = fetch_round(self.relay_url, str(reveal["chain_hash"]).lower(), int(reveal["round"]))
        except (OSError, ValueError, KeyError) as exc:
            raise DrawStateError(tr("drand 中继 %(relay)s 没有给出第 %(round)s 轮：%(exc)s", relay=self.relay_url,
                                    round=reveal.get("round"), exc=exc)) from None
        return {"type": "drand", **{k: v for k, v in fetched.items() if v is not None}}

    # --- helpers ------------------------------------------------------------------------

    def _signer(self, actor: Actor):  # type: ignore[no-untyped-def]
        return actor.signer if actor.signer is not None else self.registry.signer_for(actor.id)

    @staticmethod
    def _may_run(actor: Actor, department: str) -> None:
        if actor.role in ("system", "admin"):
            return
        if actor.role == "operator" and department in actor.departments:
            return
        raise Forbidden(tr("只有 %(department)s 的操作员可以操作本部门的抽签", department=department))

    def _row(self, conn: Connection, draw_id: str, secret: bool = True) -> Any:
        """The draw's row; without its `secret` where only the public doc is wanted (a drawn
        province's secret holds a million assignments: ~100 MB of JSON to read for nothing)."""
        cols = schema.draws.c if secret else [c for c in schema.draws.c if c.name != "secret"]
        row = conn.execute(select(*cols).where(schema.draws.c.id == draw_id)).one_or_none()
        if row is None:
            raise DrawNotFound(tr("抽签 %(draw_id)s 不存在", draw_id=draw_id))
        return row

    def _load(self, conn: Connection, draw_id: str, actor: Actor | None = None,
              pools: bool = False, subjects: str = "strata") -> tuple[Any, dict, dict]:
        """The row, its public doc and its secret; the (large) pools only when asked for,
        the subjects in the form `subjects` names (load_pools)."""
        row = self._row(conn, draw_id)
        if actor is not None:
            self._may_run(actor, row.department)
        secret = parse_secret(row.secret)
        if pools:
            secret["pools"] = load_pools(conn, draw_id, subjects)
        return row, json.loads(row.doc), secret

    def _save(self, conn: Connection, draw_id: str, **values: Any) -> None:
        if isinstance(values.get("secret"), dict):  # pools are stored once, in draw_pools
            sec = values["secret"]
            # the current matching is stored only once it differs from the drawn one (parse_secret)
            drop = ("pools", "matching") if sec.get("matching") is sec.get("content", {}).get("matching") else ("pools",)
            values["secret"] = {k: v for k, v in sec.items() if k not in drop}
        for k in ("doc", "secret"):
            if k in values and not isinstance(values[k], str):
                values[k] = _dumps(values[k])
        conn.execute(update(schema.draws).where(schema.draws.c.id == draw_id).values(**values))

    def _witnessed(self, seq: int, before: int | None = None) -> None:
        """With a witness quorum, the inputs count as fixed only once k witnesses cosigned a
        checkpoint covering the prepared entry — before the beacon round's time `before`, when
        there is one (else every verifier fails the draw): no seed until then."""
        k = witnessing.quorum(self.ledger.engine)
        if k <= 0:
            return
        cp = witnessing.witnessed_covering(self.ledger, seq, k)
        if cp is None:
            st = witnessing.status(self.ledger, seq)
            missing = "、".join(m["name"] for m in st.get("missing", [])) or "-"
            raise DrawStateError(f"等待见证 (awaiting witnesses): the prepared checkpoint is not yet cosigned by {k} "
                                 f"of {st['n']} witnesses (missing: {missing}); the seed waits")
        if before is not None and witnessing.cosigned_before(self.ledger, cp.size, before) < k:
            raise DrawStateError(f"见证过迟 (witnessed too late): fewer than {k} witnesses cosigned the prepared "
                                 f"checkpoint before the beacon round's time {before}; nothing shows the inputs were "
                                 "fixed in time — abort this draw and prepare it again")

    @staticmethod
    def _expect(row: Any, *states: str) -> None:
        if row.status not in states:
            raise DrawStateError(tr("抽签 %(draw_id)s 当前为“%(status)s”，此步骤需要“%(needed)s”", draw_id=row.id,
                                    status=tr(DRAW_STATE_WORDS.get(row.status, row.status)),
                                    needed=tr("”或“").join(tr(DRAW_STATE_WORDS.get(s, s)) for s in states)))

    def _answer(self, draw_id: str, entry: Entry, tx: Any) -> dict[str, Any]:
        """A step's answer: the draw as it now is, and the step entry's receipt (§D11.7). The step
        is committed; it counts once k witnesses cosigned a checkpoint covering it (the seed waits
        for that on prepare, the public pages on publish): ask them now."""
        witnessing.witness_now(self.ledger)
        return {**self.get(draw_id), "receipt": receipt(self.ledger, entry, tx.checkpoint)}

    # --- reading ------------------------------------------------------------------------

    @raises(DrawNotFound)
    def get(self, draw_id: str) -> dict[str, Any]:
        """The draw, and whether its newest step is witnessed yet (`witnessing`): with a witness
        quorum, a step counts as done only once k witnesses cosigned a checkpoint covering it."""
        with self.ledger.engine.connect() as conn:
            row = self._row(conn, draw_id, secret=False)
        out = self._public(row)
        seqs = [s for s in out["seqs"].values() if s is not None]
        out["witnessing"] = witnessing.status(self.ledger, max(seqs) if seqs else None)
        return out

    @staticmethod
    def _public(row: Any) -> dict[str, Any]:
        doc = json.loads(row.doc)
        return {"id": row.id, "plan": row.plan, "department": row.department, "year": row.year,
                "status": row.status, "seqs": {k: getattr(row, f"{k}_seq") for k in
                                               ("prepared", "seeded", "drawn", "published", "aborted")},
                **{k: v for k, v in doc.items() if k not in ("id",)}}

    def list(self, status: Sequence[str] | None = None, departments: Sequence[str] | None = None,
             limit: int | None = None, offset: int = 0) -> list[dict]:
        """Draws newest first; `limit`/`offset` page them (the API always pages, pages may not)."""
        stmt = select(*[c for c in schema.draws.c if c.name != "secret"]).order_by(schema.draws.c.prepared_seq.desc())
        if limit is not None:
            stmt = stmt.limit(limit).offset(offset)
        elif offset:
            stmt = stmt.offset(offset)
        if status:
            stmt = stmt.where(schema.draws.c.status.in_(list(status)))
        if departments is not None:
            stmt = stmt.where(schema.draws.c.department.in_(list(departments)))
        with self.ledger.engine.connect() as conn:
            return [self._public(r) for r in conn.execute(stmt)]

    def secret(self, draw_id: str, pools: bool = True) -> dict[str, Any]:
        """Sealed material, the pools too unless `pools` is false (a page that shows only the
        teams need not read a million-subject pool). Operators of the department and auditors
        only — callers check."""
        with self.ledger.engine.connect() as conn:
            return self._load(conn, draw_id, pools=pools, subjects="records")[2]

    # --- prepare ------------------------------------------------------------------------

    def gather(self, conn: Connection, plan: Mapping[str, Any], department: str, draw_date: str) -> DrawInputs:
        items = [get_record(conn, "item", c) for c in plan["items"]]
        if any(i is None for i in items):
            raise InputsError(tr("计划 %(plan)s 含有未知的抽查事项", plan=plan["code"]))
        libs = {r["code"]: r for r in (json.loads(d) for d in conn.execute(select(reg.sublibraries.c.doc)).scalars())}
        subjects = _subject_columns(conn, [plan.get("filter") or {}] +
                                    [libs[c]["filter"] for c in plan.get("sublibraries", []) if c in libs])
        insp = [json.loads(d) for d in conn.execute(select(reg.inspectors.c.doc)).scalars()]
        confl = [json.loads(d) for d in conn.execute(select(reg.conflicts.c.doc)).scalars()]
        parents = {r.code: r.parent for r in conn.execute(select(reg.departments.c.code, reg.departments.c.parent))}
        year = int(draw_date[:4])
        prior = [PriorCheck(r.subject, r.department, r.kind) for r in conn.execute(
            select(schema.checks).where(schema.checks.c.year == year))]
        return build_inputs(plan, department, items, subjects, libs, insp, confl, prior, parents, draw_date)

    def gather_streamed(self, conn: Connection, plan: Mapping[str, Any], department: str, draw_date: str,
                        draw_id: str) -> tuple[DrawInputs, dict[str, Any], list[int]] | None:
        """gather + the subject pool's commitment, the registry read and the pool stored part by
        part (`STREAM_CHUNK` subjects at a time): what prepare holds is one part, not the pool.

        The rules run on each part as `build_inputs` runs on the whole (a subject's exclusion
        and stratum depend only on its own record and its own prior checks), and the parts come
        in id order, so the pool, the exclusions and the conflicts are the ones gather gives and
        the commitment is commit_subjects' (tests compare them). None when the registry cannot
        be streamed (a filter that reads whole records, another store, an empty registry, a
        part out of id order): the caller gathers at once; nothing stored stays."""
        items = [get_record(conn, "item", c) for c in plan["items"]]
        if any(i is None for i in items):
            raise InputsError(tr("计划 %(plan)s 含有未知的抽查事项", plan=plan["code"]))
        libs = {r["code"]: r for r in (json.loads(d) for d in conn.execute(select(reg.sublibraries.c.doc)).scalars())}
        filters = [plan.get("filter") or {}] + [libs[c]["filter"] for c in plan.get("sublibraries", []) if c in libs]
        if any(filters) or conn.dialect.name not in ("sqlite", "postgresql"):
            return None
        insp = [json.loads(d) for d in conn.execute(select(reg.inspectors.c.doc)).scalars()]
        confl = [json.loads(d) for d in conn.execute(select(reg.conflicts.c.doc)).scalars()]
        parents = {r.code: r.parent for r in conn.execute(select(reg.departments.c.code, reg.departments.c.parent))}
        year = int(draw_date[:4])
        prior = sorted((PriorCheck(r.subject, r.department, r.kind) for r in conn.execute(
            select(schema.checks).where(schema.checks.c.year == year))), key=lambda c: c.subject)
        rules = _PartRules(plan, department, items, libs, insp, confl, prior, [c.subject for c in prior], parents,
                           draw_date)
        # what every part shares (inspectors, rule, parameters): the rules over no subject at all
        shared = build_inputs(plan, department, items, _NO_SUBJECTS, libs, insp, confl, [], parents, draw_date)
        fold = LeafFold(STREAM_CHUNK)
        counts: Counter[str] = Counter()
        excluded: list[dict[str, Any]] = []
        pairs: set[tuple[str, ...]] = set()
        read = 0
        stored: list[int] = []  # each stored part's record count
        last: str | None = None
        pending: deque[Pending | bytes] = deque()

        def take(answer: bytes) -> None:
            nonlocal last
            part = pickle.loads(answer)
            if part["size"]:
                if last is not None and not last < part["first"]:
                    raise NotInIdOrder("the registry's parts are not in strictly increasing id order")
                last = part["last"]
                fold.add(part["leaves"])
                _store_part(conn, draw_id, len(stored), part["ids"], part["names"], part["strata"])
                stored.append(part["size"])
            counts.update(part["counts"])
            excluded.extend(part["excluded"])
            pairs.update(tuple(c) for c in part["conflicts"])

        try:
            for raw in _subject_parts(conn, STREAM_CHUNK):
                read += 1
                task = partial(_part_pool, rules, raw)
                # each part's rules, leaf hashes and stored form in a child while the next part is
                # read here (two in flight): this process only reads, stores and folds
                pending.append(Pending(task) if raw.count >= MIN_PARALLEL else task())
                del raw, task
                while len(pending) >= 2:
                    first = pending.popleft()
                    take(first.result() if isinstance(first, Pending) else first)
            while pending:
                first = pending.popleft()
                take(first.result() if isinstance(first, Pending) else first)
        except NotInIdOrder:
            read = 0
        except BaseException:
            for p in pending:
                if isinstance(p, Pending):
                    p.cancel()
            fold.cancel()
            raise
        if not read:  # an empty registry, or a part out of order: the caller gathers at once
            for p in pending:
                if isinstance(p, Pending):
                    p.cancel()
            fold.cancel()
            conn.execute(schema.draw_pool_chunks.delete().where(schema.draw_pool_chunks.c.draw_id == draw_id))
            return None
        commitment = PoolCommitment(kind="subjects", size=fold.size, root=fold.root(), counts=dict(counts)).to_json()
        inputs = replace(shared, excluded=excluded, conflicts=[list(p) for p in sorted(pairs)])
        return inputs, commitment, stored

    def preview(self, actor: Actor, plan: str, department: str, draw_date: str) -> dict[str, Any]:
        """What prepare would freeze, shown before anything is signed: the pools per stratum,
        the excluded subjects by reason, the eligible inspectors and who is left out and why,
        and every rule the draw would break (`problems`; prepare refuses on any)."""
        self._may_run(actor, department)
        draw_date = precheck.parse_draw_date(draw_date)
        with self.ledger.engine.connect() as conn:
            plan_rec = get_record(conn, "plan", plan)
            _plan_drawable(plan_rec, plan)
            inputs = self.gather(conn, plan_rec, department, draw_date)
            insp = [json.loads(d) for d in conn.execute(select(reg.inspectors.c.doc)).scalars()]
            confl = [json.loads(d) for d in conn.execute(select(reg.conflicts.c.doc)).scalars()]
        sizes = stratum_sizes(inputs.pool.counts(), inputs.ratios, inputs.floor, inputs.key_item)
        people = precheck.inspector_overview(insp, inputs.rule, confl)
        return {"plan": plan_rec, "department": department, "draw_date": draw_date,
                "team_size": inputs.rule.team_size, "departments": list(inputs.rule.departments),
                "strata": precheck.strata_table(inputs, sizes), "total_pool": len(inputs.pool.ids),
                "total_drawn": sum(sizes.values()), "excluded": precheck.excluded_counts(inputs.excluded),
                **people, "problems": precheck.problems(plan_rec, draw_date, len(people["eligible"]),
                                                        inputs.rule.team_size)}

    @raises(Forbidden, DrawStateError, UnknownReference, InputsError, DrawError)
    def prepare(self, actor: Actor, plan: str, department: str, sources: Sequence[Mapping[str, Any]],
                draw_id: str | None = None, draw_date: str | None = None, note: str = "") -> dict[str, Any]:
        """Freeze the inputs and commit to them and to the seed recipe; sign a checkpoint right after."""
        self._may_run(actor, department)
        now = self.ledger.clock()
        draw_date = precheck.parse_draw_date(draw_date) if draw_date else china_date(now).isoformat()
        nonce = secrets.token_bytes(32)
        recipe = {"nonce_commitment": nonce_commitment(nonce).hex(),
                  "sources": [{"type": "server_nonce"}, *[dict(s) for s in sources]]}
        check_recipe(recipe, self.chains, _unix(now))
        with gc_paused(), self.ledger.transaction() as tx:  # a million-subject pool: no GC rescans
            plan_rec = get_record(tx.conn, "plan", plan)
            _plan_drawable(plan_rec, plan)
            if (bad := precheck.window_problem(plan_rec, draw_date)) is not None:
                raise InputsError(bad)
            draw_id = draw_id or f"D{now:%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
            if tx.conn.execute(select(schema.draws.c.id).where(schema.draws.c.id == draw_id)).first():
                raise DrawStateError(tr("抽签 %(draw_id)s 已存在", draw_id=draw_id))
            # the registry streamed part by part where it can be (a province: 20 million subjects)
            streamed = self.gather_streamed(tx.conn, plan_rec, department, draw_date, draw_id)
            if streamed is not None:
                inputs, subject_commitment, parts = streamed
                counts = subject_commitment["counts"]
            else:
                inputs = self.gather(tx.conn, plan_rec, department, draw_date)
                counts, parts = inputs.pool.counts(), []
            # The rules are checked now, before anything is committed: sizes and random teams.
            sizes = stratum_sizes(counts, inputs.ratios, inputs.floor, inputs.key_item)
            cands, _ = candidates(inspectors_of(inputs.inspectors), inputs.rule)
            if (bad := precheck.team_problem(len(cands), inputs.rule.team_size)) is not None:
                raise DrawError(bad)
            pools = {"subjects": inputs.pool, "inspectors": inputs.inspectors, "excluded": inputs.excluded,
                     "conflicts": inputs.conflicts, "experts": inputs.experts, "prior_load": inputs.prior_load}
            # everything the matching reads is committed here, before the seed (§D11.1, v2)
            commitments = {
                "subjects": subject_commitment if streamed is not None else commit_subjects(inputs.pool).to_json(),
                "inspectors": commit_pool(inputs.inspectors, "inspectors").to_json(),
                "excluded": commit_pool(inputs.excluded, "excluded").to_json(),
                "experts": commit_pool(inputs.experts, "experts").to_json(),
                "conflicts_sha256": _sha256_hex(canonical_bytes(inputs.conflicts)),
                "prior_load_sha256": _sha256_hex(canonical_bytes(inputs.prior_load)),
            }
            declared = sorted({s["chain_hash"] for s in sources if s.get("type") == "drand"})
            not_before = max([round_time(self.chains[s["chain_hash"]], s["round"])
                              for s in sources if s.get("type") == "drand"] or [None], key=lambda x: x or 0)
            payload = {
                "draw_id": draw_id, "plan": plan, "plan_year": plan_rec["year"], "department": department,
                "items": [{"code": c, "version": get_record(tx.conn, "item", c)["version"]} for c in plan_rec["items"]],
                "algorithm": ALGORITHM, "draw_date": draw_date, "parameters": inputs.parameters,
                "expected_sizes": dict(sorted(sizes.items())), "pools": commitments, "seed_recipe": recipe,
                "chains": {h: self.chains[h].to_json() for h in declared},
                "not_before": not_before, "note": note,
            }
            entry = tx.append("draw.prepared", payload, self._signer(actor))
            # The entry is dated no earlier than the log's head (entry times never run backwards),
            # which may be later than the clock read above: the rounds must still lie ahead of it.
            check_recipe(recipe, self.chains, _unix(parse_time(entry.time)))
            tx.want_checkpoint = True  # the inputs are fixed, and provably so, before any randomness exists
            doc = {**payload, "prepared_leaf_hash": entry.leaf_hash().hex()}
            secret = {"nonce": nonce.hex()}
            _store_pools(tx.conn, draw_id, pools, parts if streamed is not None else None)
            tx.conn.execute(insert(schema.draws).values(
                id=draw_id, plan=plan, department=department, year=int(draw_date[:4]), status="prepared",
                prepared_seq=entry.seq, doc=_dumps(doc), secret=_dumps(secret)))
        return self._answer(draw_id, entry, tx)

    # --- seed ---------------------------------------------------------------------------

    @raises(DrawNotFound, Forbidden, DrawStateError, DrawError)
    def seed(self, actor: Actor, draw_id: str, reveals: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Record the public sources' values and fix the seed (which stays secret until publication)."""
        with self.ledger.transaction() as tx:
            row, doc, secret = self._load(tx.conn, draw_id, actor)
            self._expect(row, "prepared")
            recipe = doc["seed_recipe"]
            public = [self._fill_from_relay(dict(r)) for r in reveals]
            now = _unix(self.ledger.clock())
            chains = chains_of_doc(doc, self.chains)
            due = [round_time(chains[str(x["chain_hash"]).lower()], int(x["round"]))
                   for x in recipe.get("sources", []) if x.get("type") == "drand" and x.get("round") is not None
                   and str(x.get("chain_hash", "")).lower() in chains]
            for r in public:
                if r.get("type") == "drand" and r.get("round") is not None:
                    chain = chains.get(str(r.get("chain_hash", "")).lower())
                    if chain is not None and now < round_time(chain, int(r["round"])):
                        raise DrawStateError(tr("drand 第 %(round)s 轮要到 %(due)s 才产生，现在还不能揭示",
                                                round=r["round"], due=round_time(chain, int(r["round"]))))
            self._witnessed(row.prepared_seq, min(due) if due else None)
            full = [{"type": "server_nonce", "nonce": secret["nonce"]}, *public]
            result = derive_seed(bytes.fromhex(doc["prepared_leaf_hash"]), recipe, full, chains)
            entry = tx.append("draw.seeded", {"draw_id": draw_id, "prepared_seq": row.prepared_seq,
                                              "reveals": public}, self._signer(actor))
            tx.want_checkpoint = True
            secret["seed"] = result.seed.hex()
            doc["reveals"] = public
            self._save(tx.conn, draw_id, status="seeded", seeded_seq=entry.seq, doc=doc, secret=secret)
        return self._answer(draw_id, entry, tx)

    # --- run ----------------------------------------------------------------------------

    @raises(DrawNotFound, Forbidden, DrawStateError, DrawError)
    def run(self, actor: Actor, draw_id: str) -> dict[str, Any]:
        """Draw: sizes, tickets, selection, matching; log only a salted commitment to the result."""
        with gc_paused(), self.ledger.transaction() as tx:  # a million-subject pool: no GC rescans
            row, doc, secret = self._load(tx.conn, draw_id, actor, pools=True, subjects="stream")
            self._expect(row, "seeded")
            seed = bytes.fromhex(secret["seed"])
            result = None
            if secret["pools"].get("subjects_chunks") is not None:  # streamed: one part at a time
                result = recompute_streamed(seed, doc, secret["pools"], _stored_parts(tx.conn, draw_id))
                if result is None:
                    secret["pools"] = load_pools(tx.conn, draw_id, "strata")
            if result is None:
                result = recompute(seed, doc, secret)
            content = result.content()
            salt = secrets.token_bytes(32)
            body = canonical_bytes(content, known_simple=True)  # DrawResult.content(): str/int/list/dict
            commitment = seal_of_body(body, salt).hex()
            entry = tx.append("draw.drawn", {"draw_id": draw_id, "seal": commitment,
                                             "sizes": content["sizes"]}, self._signer(actor))
            tx.want_checkpoint = True
            secret.update({"salt": salt.hex(), "substitutions": []})
            doc["seal"] = commitment
            # the secret's content is the sealed JCS bytes, spliced in (JSON too): a province's
            # million assignments are encoded once, not again (the matching, the same object,
            # is stored only once it differs: parse_secret)
            stored = {k: v for k, v in secret.items() if k != "pools"} | {"content": orjson.Fragment(body)}
            self._save(tx.conn, draw_id, status="drawn", drawn_seq=entry.seq, doc=doc, secret=_dumps(stored))
            _insert_checks(tx.conn, [(a["subject"], row.year, row.department, draw_id, "random", entry.seq)
                                     for a in content["matching"]["assignments"]])
        return self._answer(draw_id, entry, tx)

    # --- substitutions and swaps ----------------------------------------------------------

    def _current(self, doc: dict, secret: dict) -> tuple[bytes, MatchResult]:
        seed = bytes.fromhex(secret["seed"])
        return seed, match_from_json(secret["matching"])

    def _record_substitution(self, tx: Any, row: Any, doc: dict, secret: dict, record: dict,
                             new: MatchResult, actor: Actor) -> tuple[dict[str, Any], Entry]:
        salt = secrets.token_bytes(32)
        commitment = seal(record, salt).hex()
        n = len(secret["substitutions"])
        entry = tx.append("draw.substituted", {"draw_id": row.id, "n": n, "kind": record["kind"], "seal": commitment},
                          self._signer(actor))
        tx.want_checkpoint = True
        secret["substitutions"].append({"record": record, "salt": salt.hex(), "seal": commitment})
        secret["matching"] = new.to_json()
        self._save(tx.conn, row.id, secret=secret)
        return record, entry

    @staticmethod
    def _check_claim(claimed: str | None, computed: str) -> None:
        """A caller may name who it expects to come in; anyone but the next eligible is refused."""
        if claimed is not None and claimed != computed:
            raise NotNextEligible(tr("递补须按抽取顺序：%(claimed)s 不是下一位合格者，规则给出的是 %(computed)s",
                                     claimed=claimed, computed=computed))

    @raises(DrawNotFound, Forbidden, DrawStateError, SubstitutionInvalid, DrawError)
    def substitute_inspector(self, actor: Actor, draw_id: str, subject: str, leaving: str, reason: str,
                             unavailable: Sequence[str] = (), incoming: str | None = None) -> dict[str, Any]:
        with self.ledger.transaction() as tx:
            row, doc, secret = self._load(tx.conn, draw_id, actor, pools=True, subjects="none")
            self._expect(row, "drawn", "published")
            seed, current = self._current(doc, secret)
            pools = secret["pools"]
            v1 = doc.get("algorithm") == ALGORITHM_V1
            new, sub = substitute_inspector(seed, current, subject, leaving, reason,
                                            inspectors_of(pools["inspectors"]), rule_of(doc["parameters"]),
                                            [tuple(c) for c in pools["conflicts"]], pools.get("prior_load") or None,
                                            unavailable, inspectors_of(pools.get("experts") or []),
                                            left=None if v1 else left_subject(secret["substitutions"], subject))
            self._check_claim(incoming, sub.incoming)
            record, entry = self._record_substitution(tx, row, doc, secret, sub.to_json(), new, actor)
        witnessing.witness_now(self.ledger)
        return {**record, "receipt": receipt(self.ledger, entry, tx.checkpoint)}

    @raises(DrawNotFound, Forbidden, DrawStateError, SubstitutionInvalid, DrawError)
    def substitute_subject(self, actor: Actor, draw_id: str, subject: str, reason: str,
                           incoming: str | None = None) -> dict[str, Any]:
        with self.ledger.transaction() as tx:
            row, doc, secret = self._load(tx.conn, draw_id, actor, pools=True)
            self._expect(row, "drawn", "published")
            seed, current = self._current(doc, secret)
            pools = secret["pools"]
            p = doc["parameters"]
            selection = draw_subjects(seed, pools["subjects"], secret["content"]["sizes"])
            used = [s["record"][k] for s in secret["substitutions"] if s["record"]["kind"] == "subject"
                    for k in ("leaving", "incoming")]
            new, sub = substitute_subject(seed, selection, current, subject, reason, used,
                                          inspectors_of(pools["inspectors"]), rule_of(p),
                                          [tuple(c) for c in pools["conflicts"]], pools.get("prior_load") or None,
                                          inspectors_of(pools.get("experts") or []))
            self._check_claim(incoming, sub.incoming)
            record, entry = self._record_substitution(tx, row, doc, secret, sub.to_json(), new, actor)
            tx.conn.execute(update(schema.checks).where(schema.checks.c.source == draw_id,
                                                        schema.checks.c.subject == subject)
                            .values(subject=sub.incoming))
        witnessing.witness_now(self.ledger)
        return {**record, "receipt": receipt(self.ledger, entry, tx.checkpoint)}

    @raises(DrawNotFound, Forbidden, DrawStateError, SwapInvalid)
    def swap(self, actor: Actor, draw_id: str, inspector_a: str, subject_a: str,
             inspector_b: str, subject_b: str) -> dict[str, Any]:
        with self.ledger.transaction() as tx:
            row, doc, secret = self._load(tx.conn, draw_id, actor, pools=True, subjects="none")
            self._expect(row, "drawn", "published")
            _, current = self._current(doc, secret)
            pools = secret["pools"]
            new = swap_targets(current, inspector_a, subject_a, inspector_b, subject_b,
                               inspectors_of(pools["inspectors"]), rule_of(doc["parameters"]),
                               [tuple(c) for c in pools["conflicts"]])
            record = {"kind": "swap", "inspector_a": inspector_a, "subject_a": subject_a,
                      "inspector_b": inspector_b, "subject_b": subject_b}
            record, entry = self._record_substitution(tx, row, doc, secret, record, new, actor)
        witnessing.witness_now(self.ledger)
        return {**record, "receipt": receipt(self.ledger, entry, tx.checkpoint)}

    # --- publish and abort ----------------------------------------------------------------

    @raises(DrawNotFound, Forbidden, DrawStateError)
    def publish(self, actor: Actor, draw_id: str) -> dict[str, Any]:
        """Reveal the nonce and every salt: anyone can now recompute and check the whole draw."""
        self._second_person(actor, draw_id)
        with self.ledger.transaction() as tx:
            row, doc, secret = self._load(tx.conn, draw_id, actor)
            self._expect(row, "drawn")
            entry = tx.append("draw.published", {
                "draw_id": draw_id, "nonce": secret["nonce"], "seed": secret["seed"], "salt": secret["salt"],
                "substitution_salts": [s["salt"] for s in secret["substitutions"]],
            }, self._signer(actor))
            tx.want_checkpoint = True
            self._save(tx.conn, draw_id, status="published", published_seq=entry.seq)
        return self._answer(draw_id, entry, tx)

    def _second_person(self, actor: Actor, draw_id: str) -> None:
        """Where the department asks for four eyes on draws, whoever prepared a draw does not
        publish it alone: another account of the department (or an admin) does."""
        if actor.role == "system" or not hasattr(self.registry, "four_eyes"):
            return
        d = self.get(draw_id)
        with self.ledger.engine.connect() as conn:
            strict = self.registry.four_eyes(conn, [d["department"]], "four_eyes_draws")
        if strict and self.ledger.entry(d["seqs"]["prepared"]).actor_id == actor_id_for(actor.id):
            raise Forbidden(tr("本部门实行双人复核：抽签须由准备人以外的另一人公示"))

    @raises(DrawNotFound, Forbidden, DrawStateError)
    def abort(self, actor: Actor, draw_id: str, reason: str) -> dict[str, Any]:
        """Close a draw that will not be completed. Every prepared draw stays visible."""
        if not reason.strip():
            raise DrawStateError(tr("中止需要说明理由"))
        with self.ledger.transaction() as tx:
            row, doc, secret = self._load(tx.conn, draw_id, actor)
            self._expect(row, "prepared", "seeded")
            entry = tx.append("draw.aborted", {"draw_id": draw_id, "stage": row.status, "reason": reason},
                              self._signer(actor))
            tx.want_checkpoint = True
            self._save(tx.conn, draw_id, status="aborted", aborted_seq=entry.seq)
        return self._answer(draw_id, entry, tx)


def _plan_drawable(plan_rec: Mapping[str, Any] | None, plan: str) -> None:
    """Only an approved (or published) plan is drawn."""
    if plan_rec is None:
        raise UnknownReference(f"计划 {plan} 不存在")
    if plan_rec["status"] not in ("approved", "published"):
        raise InputsError(tr("计划 %(plan)s 尚未批准，不能抽签", plan=plan))


_DOC_ONLY_FILTER_KEYS = ("licences", "tags_any", "tags_all")


def _subject_columns(conn: Connection, filters: Sequence[Mapping[str, Any]]) -> SubjectColumns:
    """The registry's subjects as columns, in code order where the store keeps them so.

    Without a filter only what the rules need is read, each column as one aggregate value
    (a JSON array, or one string of one-character values): a million subjects in well under
    a second, where a million row tuples cost several. On SQLite reg_subjects is a WITHOUT
    ROWID table, so its scan is in code order; PostgreSQL sorts in the C collation (byte
    order). The order only spares the pool commitment a sort: it checks it and sorts when it
    does not hold. With a filter the full records are read (the filter looks at them)."""
    if any(filters):
        if any(k in f for f in filters for k in _DOC_ONLY_FILTER_KEYS):
            docs = conn.execute(select(reg.subjects.c.doc).order_by(reg.subjects.c.code)).scalars()
            return SubjectColumns.from_records(json.loads(d) for d in docs)
        cols = [reg.subjects.c[c] for c in SUBJECT_COLUMNS]
        return SubjectColumns.from_records(dict(zip(SUBJECT_COLUMNS, r, strict=True)) for r in
                                           conn.execute(select(*cols).order_by(reg.subjects.c.code)))
    dialect = conn.dialect.name
    if dialect not in ("sqlite", "postgresql"):  # any other store: row tuples
        rows = conn.execute(select(*[reg.subjects.c[c] for c in SUBJECT_COLUMNS]).order_by(reg.subjects.c.code))
        return SubjectColumns.from_records(dict(zip(SUBJECT_COLUMNS, r, strict=True)) for r in rows)
    if dialect == "sqlite":  # a WITHOUT ROWID table: the scan is in code order
        sql = "SELECT json_group_array(code), json_group_array(name), group_concat(credit_class, '') FROM reg_subjects"
    else:  # aggregated in the order of the sorted subquery
        sql = ("SELECT coalesce(json_agg(code), '[]')::text, coalesce(json_agg(name), '[]')::text, "
               "coalesce(string_agg(credit_class, ''), '') FROM "
               '(SELECT code, name, credit_class FROM reg_subjects ORDER BY code COLLATE "C") AS s')
    code, name, klass = conn.exec_driver_sql(sql).one()
    codes: list[str] = orjson.loads(code)
    n = len(codes)
    cols = SubjectColumns(code=codes, name=orjson.loads(name), credit_class=klass or "", abnormal=[False] * n,
                          serious_dishonest=[False] * n, penalized_on=[None] * n, complaints=[0] * n, inactive={})
    # The few subjects the rules treat apart (not active, or with a flag the stratum rule reads)
    # come from a second, indexed read, so the common case costs three columns.
    special = select(reg.subjects.c.code, reg.subjects.c.status, reg.subjects.c.abnormal,
                     reg.subjects.c.serious_dishonest, reg.subjects.c.penalized_on, reg.subjects.c.complaints).where(
        text(reg.SPECIAL_SUBJECTS))  # word for word the partial index's condition
    rows = conn.execute(special).all()
    if rows:
        wanted = {r.code for r in rows}
        where = {c: i for i, c in enumerate(codes) if c in wanted}
        for r in rows:
            i = where[r.code]
            if r.status not in ACTIVE_SUBJECT_STATUSES:
                cols.inactive[i] = r.status  # type: ignore[index]
            cols.abnormal[i], cols.serious_dishonest[i] = bool(r.abnormal), bool(r.serious_dishonest)
            cols.penalized_on[i], cols.complaints[i] = r.penalized_on, r.complaints
    return cols


def _dumps(value: Any) -> str:
    """Stored JSON (docs, secrets, pools): orjson, sorted keys — a million-subject pool or an
    85,000-team result in a fraction of the standard encoder's time."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def parse_secret(text: str) -> dict[str, Any]:
    """A draw's stored secret; the current matching is the drawn one until a substitution."""
    secret = orjson.loads(text)
    if "matching" not in secret and "content" in secret:
        secret["matching"] = secret["content"]["matching"]
    return secret


_CHECK_COLUMNS = ("subject", "year", "department", "source", "kind", "seq")


def _insert_checks(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """One executemany straight to the driver (PostgreSQL: one COPY): a draw records up to
    ~10^6 checks, and SQLAlchemy's per-row parameter processing costs more than the insert
    itself. The rows go
    in subject order: a draw's come in ticket order (random), and inserting a million of them
    at random places of the subject index costs several times the sort (3-4x at 20 million
    subjects' draw on SQLite); nothing reads the checks in insertion order."""
    if not rows:
        return
    rows = sorted(rows, key=itemgetter(0))
    if conn.dialect.name == "postgresql":  # COPY: a million rows' executemany took ~14 s at 20M
        with conn.connection.driver_connection.cursor() as cur, \
                cur.copy(f"COPY {schema.checks.name} ({', '.join(_CHECK_COLUMNS)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
        return
    style = conn.dialect.paramstyle
    if style not in ("qmark", "format", "pyformat"):
        conn.execute(insert(schema.checks), [dict(zip(_CHECK_COLUMNS, r, strict=True)) for r in rows])
        return
    marks = ", ".join(["?" if style == "qmark" else "%s"] * len(_CHECK_COLUMNS))
    conn.exec_driver_sql(f"INSERT INTO {schema.checks.name} ({', '.join(_CHECK_COLUMNS)}) VALUES ({marks})",
                         list(rows))


def load_pools(conn: Connection, draw_id: str, subjects: str = "records") -> dict[str, Any]:
    """A draw's frozen pools, the subjects as asked: "records" (a list of {id, name, stratum}),
    "pool" (a SubjectPool), "strata" ({stratum: ids}: all a draw or a substitution needs, names
    not even parsed) or "none". Draws prepared before the columnar storage keep their subjects
    inside the JSON."""
    cols = [schema.draw_pools.c.pools, schema.draw_pools.c.subject_strata]
    if subjects != "none":
        cols.append(schema.draw_pools.c.subject_ids)
    if subjects in ("records", "pool"):
        cols.append(schema.draw_pools.c.subject_names)
    row = conn.execute(select(*cols).where(schema.draw_pools.c.draw_id == draw_id)).one()
    pools = orjson.loads(row.pools)
    parts = pools.pop("subjects_chunks", None)
    pools.pop("subjects_part_sizes", None)  # (pool_parts reads it from the document)
    if subjects == "stream":
        if parts is not None:  # the caller reads the parts (_stored_parts)
            pools["subjects"], pools["subjects_chunks"] = None, parts
            return pools
        subjects = "strata"
    if subjects == "none":
        pools.pop("subjects", None)
        return pools
    if parts is not None:  # a streamed pool, asked for whole: its parts joined
        ids: list[str] = []
        names: list[str] = []
        strata_parts: list[str] = []
        for n in range(parts):
            part = conn.execute(select(schema.draw_pool_chunks).where(schema.draw_pool_chunks.c.draw_id == draw_id,
                                                                      schema.draw_pool_chunks.c.n == n)).one()
            ids += orjson.loads(pool_parts.stored_ids(part))
            if subjects != "strata":
                names += orjson.loads(pool_parts.stored_names(part))
            strata_parts.append(part.subject_strata)
        strata = "".join(strata_parts)
        if subjects == "strata":
            pools["subjects"] = group_by_stratum(ids, strata)
            return pools
        pool = SubjectPool(ids, names, list(strata))
    elif row.subject_strata is None:  # the JSON form
        pool = SubjectPool.from_records(pools["subjects"])
    elif subjects == "strata":
        strata = row.subject_strata
        pools["subjects"] = group_by_stratum(orjson.loads(row.subject_ids), strata)  # names not even parsed
        return pools
    else:
        pool = SubjectPool(orjson.loads(row.subject_ids), orjson.loads(row.subject_names), list(row.subject_strata))
    pools["subjects"] = {"records": pool.records, "pool": lambda: pool, "strata": pool.by_stratum}[subjects]()
    return pools


def _stored_parts(conn: Connection, draw_id: str) -> Iterator[tuple[bytes | str, str]]:
    """(ids as their stored JSON array, strata) of a streamed pool's parts, in order, one read
    at a time (StreamSelection parses the ids in the child that hashes the part), the next part
    read (and inflated) ahead in a thread."""
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    sql = f"SELECT ids_zlib, subject_ids, subject_strata FROM draw_pool_chunks WHERE draw_id = {mark} AND n = {mark}"

    def read_part(con: Any, n: int) -> tuple[bytes | str, str] | None:
        row = con.execute(sql, (draw_id, n)).fetchone()
        return None if row is None else (zlib.decompress(row[0]) if row[0] is not None else row[1], row[2])

    with _ReadAhead(conn, read_part, "pool-read") as read:
        n = 0
        read.ask(n)
        while (part := read.answer()) is not None:
            n += 1
            read.ask(n)
            yield part


def _store_part(conn: Connection, draw_id: str, n: int, ids_zlib: bytes, names_zlib: bytes, strata: str) -> None:
    """One part of a streamed pool: ids and names as zlib-compressed JSON arrays (made by the
    child that hashed it), strata as one string of one-character strata (credit classes)."""
    if conn.dialect.name == "sqlite":  # straight to the driver: no per-value processing of ~10 MB
        conn.exec_driver_sql("INSERT INTO draw_pool_chunks (draw_id, n, ids_zlib, names_zlib, subject_strata) "
                             "VALUES (?, ?, ?, ?, ?)", (draw_id, n, ids_zlib, names_zlib, strata))
        return
    conn.execute(insert(schema.draw_pool_chunks).values(draw_id=draw_id, n=n, ids_zlib=ids_zlib,
                                                       names_zlib=names_zlib, subject_strata=strata))


def _sqlite_file(conn: Connection) -> str | None:
    """The path of the SQLite database file behind `conn`, or None (in memory, a URI)."""
    db = conn.engine.url.database or ""
    return db if db and db != ":memory:" and not db.startswith("file:") and os.path.isfile(db) else None


class _ReadAhead:
    """The next read done while this part is worked on: prepare's registry parts, and run's
    stored pool parts.

    Why: reading a part (the database building its JSON arrays, and its special subjects; or a
    stored part) is a large share of what the one reading process does per part, and the
    drivers let other threads run while a statement runs. The read goes through a second
    connection in one worker thread (SQLite: a read-only connection of the same file;
    PostgreSQL: one from the engine's pool), used only after the transaction took the log's
    head (SQLite's BEGIN IMMEDIATE, PostgreSQL's FOR UPDATE): every registry change is a log
    append, so none can commit meanwhile, and the reads are of rows the transaction does not
    write (the registry; the parts prepare committed). The second connection therefore reads
    exactly the rows the transaction would. Where there is no such connection (SQLite in
    memory or a URI), the parts are read through the transaction's own, one after the other.
    `read(con, *args)` makes one read; `ask(*args)` starts it, `answer()` gives it."""

    def __init__(self, conn: Connection, read: Callable[..., Any], name: str = "registry-read") -> None:
        self.conn, self.read, self.name = conn, read, name
        self.path = _sqlite_file(conn) if conn.dialect.name == "sqlite" else None
        self.threaded = self.path is not None or conn.dialect.name == "postgresql"
        self.pool: ThreadPoolExecutor | None = None
        self.pending: Future[Any] | None = None
        self.args: tuple[Any, ...] = ()
        # the worker thread's connection (only that thread uses it). Not a threading.local: in
        # a forked child the parent's other threads' locals are freed, and freeing a pooled
        # PostgreSQL connection rolls it back over the socket the parent is using
        self.con: Any = None
        self.fairy: Any = None

    def __enter__(self) -> _ReadAhead:
        if self.threaded:
            self.pool = ThreadPoolExecutor(1, thread_name_prefix=self.name)
        return self

    def _in_thread(self, *args: Any) -> Any:
        if self.con is None:
            if self.path is not None:
                self.con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            else:
                self.fairy = self.conn.engine.raw_connection()
                self.con = self.fairy.driver_connection
        return self.read(self.con, *args)

    def ask(self, *args: Any) -> None:
        self.args = args
        self.pending = self.pool.submit(self._in_thread, *args) if self.pool is not None else None

    def answer(self) -> Any:
        if self.pending is None:
            return self.read(self.conn.connection.driver_connection, *self.args)
        return self.pending.result()

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            def close() -> None:
                if self.fairy is not None:
                    self.fairy.close()  # back to the pool (rolled back)
                elif self.con is not None:
                    self.con.close()
                self.con = self.fairy = None
            self.pool.submit(close).result()
            self.pool.shutdown(wait=True)


def _last_code(codes_json: str) -> str | None:
    """The last code of a JSON array of codes as SQLite writes it, without parsing the array
    (None if it is empty or its last string has an escape: the caller then parses)."""
    if not codes_json.endswith('"]'):
        return None
    start = codes_json.rfind('"', 0, len(codes_json) - 2)
    last = codes_json[start + 1:-2]
    return None if start < 0 or "\\" in last else last


class _SpecialRow(NamedTuple):
    """A special subject's row as the part read gives it (the columns _with_special reads)."""

    code: str
    status: str
    abnormal: Any
    serious_dishonest: Any
    penalized_on: str | None
    complaints: int


class _RawPart(NamedTuple):
    """One part of the registry as read, before any parsing: the codes and names (JSON arrays
    as SQLite writes them, the names' as its UTF-8 bytes; or lists), the credit classes (a character each), and the special
    subjects' rows that may fall in it (with their sorted codes, or None: the rows' own)."""

    count: int
    codes: str | list[str]
    names: bytes | str | list[str]
    klass: str
    special: Sequence[Any]
    keys: Sequence[str] | None


class _PartRules(NamedTuple):
    """What the rules read besides a part's own subjects (gather_streamed's, for each part)."""

    plan: Mapping[str, Any]
    department: str
    items: list[Any]
    libs: Mapping[str, Mapping[str, Any]]
    inspectors: list[Any]
    conflicts: list[Any]
    prior: list[PriorCheck]  # sorted by subject
    prior_keys: list[str]
    parents: Mapping[str, str | None]
    draw_date: str


_NO_SUBJECTS = SubjectColumns(code=[], name=[], credit_class="", abnormal=[], serious_dishonest=[], penalized_on=[],
                              complaints=[], inactive={}, special=[])


def _part_pool(rules: _PartRules, raw: _RawPart) -> bytes:
    """One registry part's share of a streamed prepare, as a child computes it: the rules over
    the part (build_inputs: a subject's exclusion and stratum depend only on its own record and
    its own prior checks), the pool's leaf hashes, and its stored form (ids and names as JSON
    arrays, strata as one string). NotInIdOrder where the part cannot be streamed (ids out of
    order, a stratum of two characters); PoolInvalid naming a bad record."""
    codes = orjson.loads(raw.codes) if isinstance(raw.codes, str) else raw.codes
    # the names are only hashed and stored: from SQLite's JSON bytes, the C loop does both
    # without a str per name (the rules never read a name); else they are parsed here
    names_json = raw.names.encode() if isinstance(raw.names, str) else raw.names
    fast = accel.FAST if isinstance(names_json, bytes) else None
    names = [""] * len(codes) if fast is not None else \
        orjson.loads(names_json) if isinstance(names_json, bytes) else names_json
    keys = raw.keys if raw.keys is not None else [r.code for r in raw.special]
    cols = _with_special(codes, names, raw.klass, raw.special, keys)
    lo, hi = codes[0], codes[-1]
    prior = rules.prior[bisect_left(rules.prior_keys, lo):bisect_right(rules.prior_keys, hi)]
    part = build_inputs(rules.plan, rules.department, rules.items, cols, rules.libs, rules.inspectors,
                        rules.conflicts, prior, rules.parents, rules.draw_date)
    del cols
    ids, kept_names, strata = part.pool.ids, part.pool.names, "".join(part.pool.strata)
    if len(strata) != len(ids):
        raise NotInIdOrder("a streamed pool stored as columns needs one-character strata")
    try:
        if not _increasing(ids):
            raise NotInIdOrder("the streamed subjects are not in strictly increasing id order")
    except TypeError:
        raise PoolInvalid("a subject record needs a non-empty string id") from None
    done = None
    if fast is not None:
        keep = None
        if part.excluded:  # the excluded rows, found by their codes (the part is in code order)
            keep = bytearray(b"\x01") * len(codes)
            for r in part.excluded:
                i = bisect_left(codes, r["id"])
                if i < len(codes) and codes[i] == r["id"]:
                    keep[i] = 0
        done = fast.subject_part_leaves(ids, names_json, strata, keep)
        if done is None:  # a name JSON escapes (or not UTF-8): parsed, and the general path
            kept_names = list(compress(orjson.loads(names_json), keep)) if keep is not None else orjson.loads(names_json)
    leaves, names_json = done if done is not None else (
        subject_leaves(ids, kept_names, strata) if ids else b"", orjson.dumps(kept_names))
    return pickle.dumps({
        "size": len(ids), "first": ids[0] if ids else None, "last": ids[-1] if ids else None,
        # stored compressed (~5x: SQLite writes a part twice, to the WAL and at the checkpoint)
        "leaves": leaves, "ids": zlib.compress(orjson.dumps(ids), 1), "names": zlib.compress(names_json, 1),
        "strata": strata,
        "counts": {s: strata.count(s) for s in set(strata)},
        "excluded": part.excluded, "conflicts": part.conflicts}, protocol=pickle.HIGHEST_PROTOCOL)


def _c_collated(conn: Connection) -> bool:
    """The PostgreSQL database keeps text in byte order (a C collation): its primary key on
    `code` is then in the id order the pool needs."""
    collation = conn.exec_driver_sql("SELECT datcollate FROM pg_database WHERE datname = current_database()").scalar()
    return str(collation).lower() in ("c", "posix", "c.utf-8", "c.utf8")


def _subject_parts(conn: Connection, size: int) -> Iterator[_RawPart]:
    """The registry's subjects `size` at a time, in code order, as read, with the special rows
    that may fall in each part: by key ranges (SQLite: of the WITHOUT ROWID table; PostgreSQL
    in a C collation: of the primary key), each part one row of JSON aggregates made by the
    database and read ahead in a thread; a PostgreSQL database in another collation sorts in
    "C" through a server-side cursor."""
    pg = conn.dialect.name == "postgresql"
    if pg and not _c_collated(conn):
        yield from _subject_parts_sorted(conn, size)
        return
    # each part from the narrow covering index ix_reg_subjects_draw (the table's rows carry
    # the whole record), its special subjects by a range of the (covering) partial index
    if pg:
        # (one aggregate pass over the ordered rows: the three columns stay aligned row for row,
        # and the codes' order is checked; an ORDER BY inside the aggregates would sort again)
        sql = ("SELECT count(*), json_agg(code)::text, json_agg(name)::text, string_agg(credit_class, '') "
               "FROM (SELECT code, name, credit_class FROM reg_subjects WHERE code > %s ORDER BY code LIMIT %s) t")
        special_sql = ("SELECT code, status, abnormal, serious_dishonest, penalized_on, complaints FROM reg_subjects "
                       f"WHERE code > %s AND code <= %s AND ({reg.SPECIAL_SUBJECTS}) ORDER BY code")
    else:
        # (the names as the JSON's bytes: _part_pool hashes and stores them without decoding)
        sql = ("SELECT count(*), json_group_array(code), CAST(json_group_array(name) AS BLOB), "
               "group_concat(credit_class, '') FROM "
               "(SELECT code, name, credit_class FROM reg_subjects WHERE code > ? ORDER BY code LIMIT ?)")
        special_sql = ("SELECT code, status, abnormal, serious_dishonest, penalized_on, complaints FROM reg_subjects "
                       f"WHERE code > ? AND code <= ? AND ({reg.SPECIAL_SUBJECTS}) ORDER BY code")

    def read_part(con: Any, last: str, size: int) -> tuple[Any, ...]:
        count, code, name, klass = con.execute(sql, (last, size)).fetchone()
        hi = _last_code(code) if count else None
        special = con.execute(special_sql, (last, hi)).fetchall() if hi is not None else None
        return count, code, name, klass, special

    with _ReadAhead(conn, read_part) as read:
        read.ask("", size)
        while True:
            count, code, name, klass, special = read.answer()
            if not count:
                return
            hi = _last_code(code)
            if hi is None:  # (an escape in the last code: parse the array to know it)
                hi = orjson.loads(code)[-1]
            if special is None:  # (the reader could not tell the part's last code)
                special = conn.exec_driver_sql(special_sql, (read.args[0], hi)).all()
            more = count == size
            if more:  # the next part is read while this one is worked on
                read.ask(hi, size)
            yield _RawPart(count, code, name, klass or "", [_SpecialRow(*r) for r in special], None)
            del code, name, klass, special  # one part alive at a time
            if not more:
                return


def _subject_parts_sorted(conn: Connection, size: int) -> Iterator[_RawPart]:
    """_subject_parts on a PostgreSQL database whose collation is not C: every subject sorted
    in "C" through a server-side cursor (the stream refuses parts out of byte order either
    way: the caller then reads at once)."""
    special = select(reg.subjects.c.code, reg.subjects.c.status, reg.subjects.c.abnormal,
                     reg.subjects.c.serious_dishonest, reg.subjects.c.penalized_on,
                     reg.subjects.c.complaints).where(text(reg.SPECIAL_SUBJECTS))
    pg_rows = sorted(conn.execute(special).all(), key=lambda r: r.code)
    keys = [r.code for r in pg_rows]
    conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")  # this transaction's sort, in memory
    result = conn.exec_driver_sql('SELECT code, name, credit_class FROM reg_subjects ORDER BY code COLLATE "C"',
                                  execution_options={"stream_results": True, "yield_per": size})
    for chunk in result.partitions(size):
        codes, names, klass = (list(c) for c in zip(*chunk, strict=True))
        del chunk
        yield _RawPart(len(codes), codes, names, "".join(klass), pg_rows, keys)
        del codes, names, klass


def _with_special(codes: list[str], names: list[str], klass: str, rows: Sequence[Any],
                  keys: Sequence[str]) -> SubjectColumns:
    """One part's columns, with the special subjects (not active, or flagged) that fall in it."""
    n = len(codes)
    special: list[int] = []
    cols = SubjectColumns(code=codes, name=names, credit_class=klass, abnormal=[False] * n,
                          serious_dishonest=[False] * n, penalized_on=[None] * n, complaints=[0] * n, inactive={},
                          special=special)
    for r in rows[bisect_left(keys, codes[0]):bisect_right(keys, codes[-1])]:
        i = bisect_left(codes, r.code)
        if i == n or codes[i] != r.code:
            continue
        special.append(i)
        if r.status not in ACTIVE_SUBJECT_STATUSES:
            cols.inactive[i] = r.status  # type: ignore[index]
        cols.abnormal[i], cols.serious_dishonest[i] = bool(r.abnormal), bool(r.serious_dishonest)  # type: ignore[index]
        cols.penalized_on[i], cols.complaints[i] = r.penalized_on, r.complaints  # type: ignore[index]
    return cols


def _store_pools(conn: Connection, draw_id: str, pools: Mapping[str, Any], parts: list[int] | None = None) -> None:
    """Subjects as three columns (ids and names as JSON arrays, strata as one string, since a
    stratum is one character: a credit class); the smaller pools as one JSON document. A
    streamed pool (`parts`: each stored part's size) is already in draw_pool_chunks: the document
    says how many parts, and their sizes (the API cuts a bundle part from the stored parts it
    overlaps without reading the others)."""
    if parts is not None:
        rest = {k: v for k, v in pools.items() if k != "subjects"}
        conn.execute(insert(schema.draw_pools).values(draw_id=draw_id, pools=_dumps({**rest, "subjects_chunks": len(parts), "subjects_part_sizes": parts})))
        return
    subjects: SubjectPool = pools["subjects"]
    one_char = all(len(s) == 1 for s in set(subjects.strata))
    rest = {k: v for k, v in pools.items() if k != "subjects"}
    if not one_char:  # (not produced by build_inputs) keep the general form
        rest["subjects"] = subjects.records()
    conn.execute(insert(schema.draw_pools).values(
        draw_id=draw_id, pools=_dumps(rest),
        subject_ids=_dumps(subjects.ids) if one_char else None,
        subject_names=_dumps(subjects.names) if one_char else None,
        subject_strata="".join(subjects.strata) if one_char else None))


def _sha256_hex(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
