"""Demo data: a generated county (固阳县-like, region 150222) with departments, items, a few
hundred subjects with valid generated credit codes, inspectors (some certificates expired),
experts, a conflict declaration, sub-libraries, accounts and an approved plan.

Everything is generated from a seed: names are assembled from common syllables and name no
real person or company. All changes go through the Registry services, so they are on the log.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from drawsvc import creditcode

from .authz import Actor
from .records import CREDIT_CLASSES

COUNTY = "150222"
TOWNS = ["金山镇", "西斗铺镇", "下湿壕镇", "银号镇", "怀朔镇", "兴顺西镇"]
DEPARTMENTS = [
    {"code": "gov", "name": "县人民政府", "parent": None, "joint_group": None},
    {"code": "scjg", "name": "县市场监督管理局", "parent": "gov", "joint_group": "双随机联席会议"},
    {"code": "scjg-sp", "name": "食品安全监督管理股", "parent": "scjg", "joint_group": "双随机联席会议"},
    {"code": "yjgl", "name": "县应急管理局", "parent": "gov", "joint_group": "双随机联席会议"},
    {"code": "sthj", "name": "县生态环境分局", "parent": "gov", "joint_group": "双随机联席会议"},
    {"code": "zjj", "name": "县住房和城乡建设局", "parent": "gov", "joint_group": "双随机联席会议"},
    {"code": "rfb", "name": "县国防动员办公室", "parent": "gov", "joint_group": "双随机联席会议"},
]
ITEMS = [
    ("SCJG-001", "scjg", "企业公示信息抽查", "《企业信息公示暂行条例》第十四条", "辖区内各类企业", "年度报告公示信息的真实性",
     ["书面检查", "网络检查"], "general", 500, None),
    ("SCJG-002", "scjg-sp", "食品生产经营者监督检查", "《中华人民共和国食品安全法》第一百一十条", "食品生产经营者",
     "生产经营条件、原料控制、过程控制", ["现场检查"], "key", 0, None),
    ("YJGL-001", "yjgl", "危险化学品经营单位安全检查", "《危险化学品安全管理条例》第六条", "危险化学品经营单位",
     "安全管理制度、人员资质、储存条件", ["现场检查"], "key", 0, None),
    ("STHJ-001", "sthj", "排污单位监督检查", "《中华人民共和国环境保护法》第二十四条", "排污许可重点管理单位",
     "排污许可证执行情况", ["现场检查", "委托专业机构"], "general", 500, 3000),
    ("ZJJ-001", "zjj", "建筑施工企业安全生产检查", "《建设工程安全生产管理条例》第四十条", "建筑施工企业",
     "安全生产许可条件", ["现场检查", "书面检查"], "general", 500, 3000),
    ("RFB-001", "rfb", "人防工程平时使用检查", "《中华人民共和国人民防空法》第二十六条", "人防工程使用单位",
     "人防工程维护管理", ["现场检查"], "general", 500, 2000),
]
INDUSTRIES = [("C13", "农副食品加工"), ("C14", "食品"), ("E47", "建筑工程"), ("E50", "装饰工程"), ("F51", "商贸"),
              ("F52", "超市"), ("H61", "宾馆"), ("H62", "餐饮"), ("B10", "矿业"), ("C30", "建材"), ("G54", "运输"),
              ("O80", "家政服务"), ("F5265", "加油站"), ("C26", "化工")]
WORDS = ["鑫源", "华泰", "恒达", "金茂", "宏盛", "瑞丰", "德隆", "永信", "晟通", "聚福", "康达", "博远", "兴旺", "天成",
         "润泽", "佳和", "广利", "安泰", "北辰", "阴山", "春晖", "合众", "泰和", "祥云"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰鹏华飞玉萍红梅鑫波斌宇浩凯健俊帆帅旭宁"


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def demo_subjects(n: int, rng: random.Random, today: date | None = None) -> list[dict[str, Any]]:
    """n subjects with valid generated credit codes, across credit classes and industries
    (penalties dated within the 430 days before `today`; default 2026-03-01, for benchmarks)."""
    today = today or date(2026, 3, 1)
    out, seen = [], set()
    weights = {"A": 40, "B": 35, "C": 17, "D": 8}
    while len(out) < n:
        ind, label = rng.choice(INDUSTRIES)
        kind = rng.random()
        category = "2" if kind < 0.25 else "3" if kind < 0.3 else "1"
        code = creditcode.generate(rng, region=COUNTY, authority="9", category=category)
        if code in seen:
            continue
        seen.add(code)
        cls = rng.choices(CREDIT_CLASSES, weights=[weights[c] for c in CREDIT_CLASSES])[0]
        word = rng.choice(WORDS) + rng.choice(WORDS)
        suffix = {"1": "有限公司", "2": "店", "3": "农民专业合作社"}[category]
        tags = [t for t, p in (("重点监管", 0.1), ("小微企业", 0.4), ("人防工程", 0.05)) if rng.random() < p]
        licences = {"C13": ["食品生产许可证"], "C14": ["食品生产许可证"], "H62": ["食品经营许可证"],
                    "F52": ["食品经营许可证"], "C26": ["危险化学品经营许可证", "排污许可证"], "F5265": ["危险化学品经营许可证"],
                    "E47": ["建筑业企业资质证书", "安全生产许可证"], "B10": ["采矿许可证", "排污许可证"]}.get(ind, [])
        out.append({
            "code": code, "name": f"固阳县{word}{label}{suffix}", "region": COUNTY, "industry": ind,
            "licences": licences, "status": "存续" if rng.random() > 0.03 else "注销", "credit_class": cls,
            "abnormal": cls in ("C", "D") and rng.random() < 0.3, "serious_dishonest": cls == "D" and rng.random() < 0.2,
            "penalized_on": (today - timedelta(days=30 + rng.randrange(400))).isoformat()
            if cls in ("C", "D") and rng.random() < 0.3 else None,
            "complaints": rng.choices([0, 1, 2, 5], weights=[70, 15, 10, 5])[0], "tags": tags,
            "address": f"内蒙古自治区包头市固阳县{rng.choice(TOWNS)}{rng.randrange(1, 200)}号",
        })
    return out


def plan_window(today: date) -> tuple[date, date]:
    """The demo plan's window: opened 100 days before `today` (so a published draw and its
    inspections have a history) and open 30 days after it (so the demo's today is inside)."""
    return today - timedelta(days=100), today + timedelta(days=30)


def seed_registries(reg: Any, *, subjects: int = 300, seed: int = 2026, today: date | None = None,
                    window: tuple[date, date] | None = None,
                    admin_password: str = "demo-admin-2026", password: str = "demo-pass-2026") -> dict[str, Any]:
    """Create the demo county through the Registry (every change logged). Returns a summary
    including the demo accounts and their passwords (for a local demo only).

    Dates are relative to `today` (default: the registry's clock): certificates run for five
    years from one month to four years ago (a few expired a month ago), and the plan's window is
    `window` (default: from `today` for 130 days)."""
    rng = random.Random(seed)
    today = today or reg.today()
    start_day, end_day = window or (today, today + timedelta(days=130))
    system = reg.system
    for d in DEPARTMENTS:
        reg.save(system, "department", {**d, "region": COUNTY})
    accounts = {"admin": ("admin", [], None), "op-scjg": ("operator", ["scjg", "scjg-sp"], None),
                "op-yjgl": ("operator", ["yjgl"], None), "op-rfb": ("operator", ["rfb"], None),
                "auditor": ("auditor", [], None)}
    reg.create_account(system, {"id": "admin", "name": "系统管理员", "role": "admin"}, admin_password)
    admin = demo_actor(reg, "admin")
    for acc, (role, depts, _) in accounts.items():
        if acc != "admin":
            reg.create_account(admin, {"id": acc, "name": _name(rng), "role": role, "departments": depts}, password)
    op = {a: demo_actor(reg, a) for a in ("op-scjg", "op-yjgl", "op-rfb")}
    for code, dept, name, basis, scope, content, methods, kind, lo, hi in ITEMS:
        actor = op["op-scjg"] if dept.startswith("scjg") else op.get(f"op-{dept}") or admin
        reg.save(actor, "item", {"code": code, "department": dept, "name": name, "legal_basis": basis,
                                 "object_scope": scope, "content": content, "methods": methods, "kind": kind,
                                 "ratio_min_bp": lo, "ratio_max_bp": hi, "frequency": "每年至少1次"})
    subs = demo_subjects(subjects, rng, today)
    reg.apply_batch(op["op-scjg"], "subject", subs, {"source": "demo"})
    inspectors = []
    for i in range(24):
        dept = DEPARTMENTS[1 + i % (len(DEPARTMENTS) - 1)]["code"]
        start = today - timedelta(days=30 + 365 * (i % 4) + 29 * (i % 12))  # valid for a year or more ahead
        end = start + timedelta(days=5 * 365)
        if i % 7 == 3:  # some expired certificates
            end = today - timedelta(days=30 + i)
        inspectors.append({"id": f"P{i + 1:03d}", "name": _name(rng), "cert_no": f"15020{22 + i % 3}{start.year}{i + 1:04d}",
                           "cert_valid_from": start.isoformat(), "cert_valid_to": end.isoformat(), "department": dept,
                           "qualifications": ["行政执法证"] + (["食品检查员"] if dept.startswith("scjg") else []),
                           "specialties": rng.sample(["食品安全", "特种设备", "安全生产", "环境监测", "建筑工程", "人防工程"], 2),
                           "status": "停用" if i == 5 else "在岗"})
    reg.apply_batch(system if admin is None else admin, "inspector", inspectors, {"source": "demo"})
    insp_account = "insp-" + inspectors[0]["id"].lower()
    reg.create_account(admin, {"id": insp_account, "name": inspectors[0]["name"], "role": "inspector",
                               "inspector": inspectors[0]["id"]}, password)
    for i in range(6):
        reg.save(admin, "expert", {"id": f"E{i + 1:02d}", "name": _name(rng),
                                   "specialties": rng.sample(["食品检验", "化工安全", "结构工程", "环境监测"], 2),
                                   "organisation": "包头市某检验检测中心", "title": "高级工程师"})
    insp_actor = demo_actor(reg, insp_account)
    reg.save(insp_actor, "conflict", {"inspector": inspectors[0]["id"], "subject": subs[0]["code"],
                                      "reason": "近亲属", "note": "配偶任该公司监事"})
    reg.save(op["op-scjg"], "sublibrary", {"code": "food", "name": "食品生产经营子库", "department": "scjg",
                                           "filter": {"licences": ["食品生产许可证", "食品经营许可证"], "statuses": ["存续", "在业"]}})
    reg.save(admin, "sublibrary", {"code": "all-active", "name": "全部存续市场主体",
                                   "filter": {"statuses": ["存续", "在业"]}})
    year = start_day.year
    plan = {"code": f"{year}-SCJG-01", "name": f"{year}年度市场监管领域双随机抽查计划", "year": year,
            "departments": ["scjg", "scjg-sp"], "items": ["SCJG-001", "SCJG-002"], "sublibraries": ["all-active"],
            "ratios_bp": {"A": 100, "B": 300, "C": 1000, "D": 2000}, "frequency_cap": 2, "team_size": 2,
            "window_start": start_day.isoformat(), "window_end": end_day.isoformat(), "joint": True,
            "note": "含食品安全与企业公示信息内部联合抽查"}
    reg.save(op["op-scjg"], "plan", plan)
    reg.set_plan_status(op["op-scjg"], plan["code"], "submitted")  # four eyes: drafted and submitted by
    reg.set_plan_status(admin, plan["code"], "approved")  # the operator, approved by another person
    # the operator holds an SM2 (国密) key too: from here on (the demo's draws) its entries carry both
    # signatures (SPEC §3 item 11), checked by drawverify and the verifier page
    reg.give_sm2_key(admin, "op-scjg")
    return {"subjects": len(subs), "inspectors": len(inspectors), "items": len(ITEMS),
            "departments": len(DEPARTMENTS), "plan": plan["code"], "sm2_accounts": ["op-scjg"],
            "accounts": {"admin": admin_password, **{a: password for a in accounts if a != "admin"},
                         insp_account: password}}


def seed_demo(ledger: Any, instance: Any = None, *, subjects: int = 300, seed: int = 2026,
              passphrase: bytes | None = None, window: tuple[date, date] | None = None) -> list[str]:
    """`drawsvc init --demo`: seed the registries on `ledger`; returns lines to print."""
    from .service import Registry

    if passphrase is None and instance is not None:
        passphrase = instance.passphrase()
    summary = seed_registries(Registry(ledger, passphrase), subjects=subjects, seed=seed, window=window)
    lines = [f"demo: {summary['departments']} departments, {summary['items']} items, {summary['subjects']} subjects, "
             f"{summary['inspectors']} inspectors, plan {summary['plan']} approved"]
    lines += [f"demo account {acc} / password {pw}" for acc, pw in summary["accounts"].items()]
    lines += [f"demo account {acc} holds an SM2 (国密) key: its entries carry both signatures"
              for acc in summary["sm2_accounts"]]
    return lines


def demo_actor(reg: Any, account: str) -> Actor:
    acc = reg.get("account", account)
    return reg.actor_for(acc)
