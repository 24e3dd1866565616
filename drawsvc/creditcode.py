"""统一社会信用代码 (unified social credit code), GB 32100-2015.

An 18-character code: 1 registration-authority character, 1 organisation-category character,
6 administrative-division digits (GB/T 2260), the 9-character organisation code (主体标识码,
GB 11714-1997, itself ending in a mod-11 check character) and one mod-31 check character.

The character set leaves out I, O, Z, S and V. Check character (GB 32100-2015 §5):
    C18 = 31 - (sum(value(Ci) * Wi for i in 1..17) mod 31), with Wi = 3^(i-1) mod 31,
    and 31 written as 0.
Organisation-code check character (GB 11714-1997):
    C9 = 11 - (sum(value(Ci) * Wi for i in 1..8) mod 11), Wi = 3 7 9 10 5 8 4 2,
    10 written X and 11 written 0; here value(A..Z) = 10..35.
"""

from __future__ import annotations

import random as _random
import re

from drawsvc.i18n import tr

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(CHARSET)}
WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
_ORG_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")

# Registration authorities (登记管理部门) and the category codes each uses (GB 32100-2015 表1,
# with the later additions published by the national credit-code centre).
AUTHORITIES: dict[str, dict[str, str]] = {
    "1": {"name": "机构编制", "1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    "2": {"name": "外交", "1": "外国常驻新闻机构", "9": "其他"},
    "3": {"name": "司法行政", "1": "律师执业机构", "2": "公证处", "3": "基层法律服务所", "4": "司法鉴定机构",
          "5": "仲裁委员会", "9": "其他"},
    "4": {"name": "文化", "1": "外国在华文化中心", "9": "其他"},
    "5": {"name": "民政", "1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
    "6": {"name": "旅游", "1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地（大陆）代表机构",
          "9": "其他"},
    "7": {"name": "宗教", "1": "宗教活动场所", "2": "宗教院校", "9": "其他"},
    "8": {"name": "工会", "1": "基层工会", "9": "其他"},
    "9": {"name": "工商", "1": "企业", "2": "个体工商户", "3": "农民专业合作社"},
    "A": {"name": "中央军委改革和编制办公室", "1": "军队事业单位", "9": "其他"},
    "N": {"name": "农业", "1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    "Y": {"name": "其他", "1": "其他"},
}


class CreditCodeError(ValueError):
    """Why a string is not a valid unified social credit code (message in Chinese and English)."""


def check_char(first17: str) -> str:
    """The 18th character for the first 17 (which must use the GB 32100 character set)."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def org_check_char(body8: str) -> str:
    """GB 11714 check character of an 8-character organisation-code body."""
    total = sum(_ORG_CHARS.index(c) * w for c, w in zip(body8, ORG_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


def normalize(code: str) -> str:
    return code.strip().upper()


def validate(code: str, *, check_org_code: bool = True) -> str:
    """Return the normalised code, or raise CreditCodeError saying what is wrong."""
    if not isinstance(code, str):
        raise CreditCodeError(tr("统一社会信用代码必须是字符串"))
    c = normalize(code)
    if len(c) != 18:
        raise CreditCodeError(tr("长度应为18位，实际%(value)s位", value=len(c)))
    bad = sorted({ch for ch in c if ch not in _VALUE})
    if bad:
        raise CreditCodeError(tr("含有不允许的字符 %(value)s（不使用 I O Z S V）", value=''.join(bad)))
    if not _SHAPE.match(c):
        raise CreditCodeError(tr("第3-8位应为行政区划代码（6位数字）"))
    authority = AUTHORITIES.get(c[0])
    if authority is None:
        raise CreditCodeError(tr("登记管理部门代码 %(value)s 不存在", value=c[0]))
    if c[1] not in authority:
        raise CreditCodeError(tr("机构类别代码 %(value)s 不属于登记管理部门 %(value2)s", value=c[1], value2=c[0]))
    expected = check_char(c[:17])
    if c[17] != expected:
        raise CreditCodeError(tr("校验码错误：应为 %(expected)s，实际 %(value)s", expected=expected, value=c[17]))
    if check_org_code:
        body = c[8:16]
        if any(ch not in _ORG_CHARS for ch in body):
            raise CreditCodeError(tr("主体标识码格式错误"))
        org = org_check_char(body)
        if c[16] != org:
            raise CreditCodeError(
                tr("主体标识码（组织机构代码）校验码错误：应为 %(org)s，实际 %(value)s", org=org, value=c[16]))
    return c


def is_valid(code: str, *, check_org_code: bool = True) -> bool:
    try:
        validate(code, check_org_code=check_org_code)
    except CreditCodeError:
        return False
    return True


def region_of(code: str) -> str:
    """The administrative-division code (characters 3-8) of a credit code."""
    return normalize(code)[2:8]


def generate(rng: _random.Random | None = None, *, region: str = "110101", authority: str = "9",
             category: str = "1") -> str:
    """A syntactically valid code (both check characters right), for demo and test data only.

    Organisation-code bodies of generated codes start with "MA" like those issued since 2015;
    the rest is random, so the code names nobody in particular.
    """
    rng = rng or _random.Random()
    if not re.fullmatch(r"\d{6}", region):
        raise ValueError("region must be 6 digits")
    digits_letters = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "MA" + "".join(rng.choice(digits_letters) for _ in range(6))
    first17 = authority + category + region + body + org_check_char(body)
    # The org check character can be X (allowed) — always in CHARSET.
    return first17 + check_char(first17)
