import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawsvc import creditcode
from drawsvc.registry import codes


@pytest.mark.parametrize("code", ["91350100M000100Y43", "9144030071526726XG", "914403001922038216",
                                  "91110000802100433B"])
def test_published_codes_are_valid(code):
    assert creditcode.validate(code) == code
    assert creditcode.validate(code.lower() + " ") == code


@pytest.mark.parametrize("code,reason", [
    ("91350100M000100Y44", "校验码错误"),
    ("91350100M000100Y4", "长度"),
    ("91350100M000100I43", "不允许的字符"),
    ("9135010AM000100Y43", "行政区划"),
    ("Z1350100M000100Y43", "不允许的字符"),
    ("B1350100M000100Y43", "登记管理部门"),
    ("97350100M000100Y43", "机构类别"),
])
def test_bad_codes_say_why(code, reason):
    with pytest.raises(creditcode.CreditCodeError, match=reason):
        creditcode.validate(code)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 17), st.integers(1, 30))
def test_generated_codes_valid_and_single_changes_caught(seed, pos, delta):
    code = creditcode.generate(random.Random(seed), region="150222")
    assert creditcode.is_valid(code)
    assert creditcode.region_of(code) == "150222"
    chars = list(code)
    old = creditcode.CHARSET.index(chars[pos])
    chars[pos] = creditcode.CHARSET[(old + delta) % 31]
    # mod-31 with weights coprime to 31 detects every single-character substitution
    assert not creditcode.is_valid("".join(chars))


def test_region_and_industry_tables():
    assert codes.check_region("150222") == "150222"
    assert codes.check_region("330106") == "330106"  # prefecture not covered by the table: accepted
    with pytest.raises(ValueError, match="未知"):
        codes.check_region("150299")  # prefecture 1502 is covered and 150299 is not in it
    with pytest.raises(ValueError, match="未知"):
        codes.check_region("990000")
    assert codes.check_industry("c1311") == "C1311"
    assert codes.check_industry("1311") == "C1311"
    assert codes.check_industry("F") == "F"
    with pytest.raises(ValueError, match="不符"):
        codes.check_industry("F1311")
    with pytest.raises(ValueError):
        codes.check_industry("C99")
    assert codes.industry_name("C1311") == "农副食品加工业"


def test_labels_name_the_place_and_the_trade() -> None:
    assert codes.region_label("150222") == "内蒙古自治区包头市固阳县"
    assert codes.region_label("110101") == "北京市东城区"  # the 市辖区 level is not a name
    assert codes.region_label("440106") == "广东省"  # the table names the province only
    assert codes.region_label("990000") == "990000" and codes.region_label("") == ""
    assert codes.industry_label("F52") == "F52 零售业" and codes.industry_label("C1311") == "C1311 农副食品加工业"
    assert codes.industry_label("E") == "E 建筑业"
