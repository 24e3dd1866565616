"""Code tables: administrative divisions (GB/T 2260) and industries (GB/T 4754-2017).

The division table in drawsvc/data/regions.csv is deliberately small: every province-level
code, plus the prefectures and counties the demo and the seeds use. A code is *known* when it
is in the table; a 6-digit code under a listed province whose prefecture is not in the table
is accepted as well (the table does not claim to cover it); a code under a prefecture that is
in the table must itself be listed. Extend the CSV to cover a deployment's area.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from importlib import resources

from drawsvc.i18n import tr


def _table(name: str) -> dict[str, str]:
    text = resources.files("drawsvc").joinpath("data", name).read_text(encoding="utf-8")
    return {row["code"]: row["name"] for row in csv.DictReader(text.splitlines())}


@cache
def regions() -> dict[str, str]:
    return _table("regions.csv")


@cache
def industries() -> dict[str, str]:
    return _table("industries.csv")


@cache
def _division_section() -> dict[str, str]:
    out: dict[str, str] = {}
    section = ""
    for code in industries():
        if code.isalpha():
            section = code
        else:
            out[code] = section
    return out


def check_region(code: str) -> str:
    """Return the code, or raise ValueError with the reason."""
    code = str(code).strip()
    if not re.fullmatch(r"\d{6}", code):
        raise ValueError(tr("行政区划代码应为6位数字"))
    table = regions()
    if code in table:
        return code
    if code[:2] + "0000" not in table:
        raise ValueError(tr("未知的行政区划代码 %(code)s（省级代码不存在）", code=code))
    if code[:4] + "00" in table:
        raise ValueError(tr("未知的行政区划代码 %(code)s", code=code))
    return code


def region_name(code: str) -> str | None:
    return regions().get(code)


def check_industry(code: str) -> str:
    """Normalise an industry code to section letter + 2-4 digits (e.g. C1311, F52, E)."""
    raw = str(code).strip().upper()
    m = re.fullmatch(r"([A-T])?(\d{2,4})?", raw)
    if not raw or not m:
        raise ValueError(tr("国民经济行业代码格式错误（如 C1311 或 F52）"))
    letter, digits = m.group(1), m.group(2)
    sections = _division_section()
    if digits:
        section = sections.get(digits[:2])
        if section is None:
            raise ValueError(tr("未知的行业大类 %(value)s", value=digits[:2]))
        if letter and letter != section:
            raise ValueError(tr("行业门类 %(letter)s 与大类 %(value)s（属 %(section)s）不符", letter=letter, value=digits[:2], section=section))
        return section + digits
    if letter not in industries():
        raise ValueError(tr("未知的行业门类"))
    return letter


def industry_codes() -> list[str]:
    """Every industry code the table names that check_industry accepts as it is: each section
    letter and each section + 2-digit division (more digits are accepted too, not listed)."""
    sections = _division_section()
    return [c for c in industries() if c.isalpha()] + [sections[c] + c for c in industries() if not c.isalpha()]


def industry_name(code: str) -> str | None:
    table = industries()
    if not code:
        return None
    return table.get(code[1:3]) or table.get(code[:1])


def region_label(code: str) -> str:
    """A division code as a reader knows it: province, prefecture and county names joined
    (内蒙古自治区包头市固阳县), as far as the table names them; the bare code when it names none.
    Why: a public page showing "150222" tells a county official nothing."""
    table = regions()
    code = str(code or "")
    if not re.fullmatch(r"\d{6}", code):
        return code
    levels = [code[:2] + "0000", code[:4] + "00", code]
    names: list[str] = []
    for level in levels:
        name = table.get(level)
        if name and (not names or name != names[-1]) and not name.endswith("市辖区"):
            names.append(name)
    return "".join(names) if names else code


def industry_label(code: str) -> str:
    """An industry code with its GB/T 4754 name (F52 零售业); the bare code when unnamed."""
    name = industry_name(str(code or ""))
    return f"{code} {name}" if name else str(code or "")
