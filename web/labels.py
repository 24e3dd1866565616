"""Words for the codes a page would otherwise show raw (roles, registries, their columns, log actors).

Every value is a catalogue msgid (Chinese, marked with N_); templates show `_(role_labels[code])`,
and the code itself stays in attributes (data-*) for scripts and tests.
"""

from __future__ import annotations

from drawsvc.i18n import N_, NC_

ROLE_LABELS = {"admin": N_("管理员"), "operator": N_("操作员"), "inspector": N_("执法检查人员"),
               "auditor": N_("纪检监察"), "public": N_("公众")}
REGISTRY_LABELS = {"items": NC_("registry", "抽查事项"), "subjects": NC_("registry", "检查对象"), "inspectors": NC_("registry", "执法检查人员"),
                   "experts": NC_("registry", "专家"), "sublibraries": NC_("registry", "子库"), "departments": NC_("registry", "部门"),
                   "conflicts": NC_("registry", "回避关系")}
COLUMN_LABELS = {
    "code": N_("编码"), "name": N_("名称"), "department": N_("部门"), "kind": N_("类型"), "methods": N_("检查方式"),
    "legal_basis": N_("抽查依据"), "version": N_("版本"), "status": N_("状态"), "region": N_("行政区划"),
    "industry": N_("行业"), "credit_class": N_("信用风险分类"), "complaints": N_("投诉举报"), "id": N_("编号"),
    "cert_no": N_("执法证号"), "cert_valid_to": N_("执法证有效期至"), "qualifications": N_("资格"),
    "specialties": N_("专业领域"), "organisation": N_("单位"), "title": N_("职称"), "filter": N_("筛选条件"),
    "parent": N_("上级部门"), "joint_group": N_("联合抽查组"), "inspector": N_("执法检查人员"),
    "subject": N_("检查对象"), "reason": N_("原因"), "note": N_("备注"),
}
# coded values of a registry field, by field (subject and inspector statuses are Chinese codes
# already: they are their own msgids)
VALUE_LABELS = {
    "kind": {"key": N_("重点检查事项"), "general": N_("一般检查事项")},
    "status": {"active": N_("在用"), "withdrawn": N_("已停用"), "存续": N_("存续"), "在业": N_("在业"), "停业": N_("停业"),
               "迁出": N_("迁出"), "注销": N_("注销"), "吊销": N_("吊销"), "撤销": N_("撤销"), "在岗": N_("在岗"),
               "停用": N_("停用")},
}
DRAW_STATUS = {"prepared": N_("已承诺"), "seeded": N_("种子已固定"), "drawn": N_("已抽取（保密）"),
               "published": N_("已公示"), "aborted": N_("已中止")}
# a declared public source of a draw's seed, by its type in the seed recipe
SOURCE_LABELS = {"server_nonce": N_("服务器随机数"), "drand": N_("drand 公共信标"), "dice": N_("现场骰子"),
                 "witness": N_("见证人"), "lottery": N_("彩票")}
# why a drawn inspector or subject was replaced (drawsvc.draw.substitution's reason codes)
SUBSTITUTION_REASONS = {"recusal_conflict": N_("回避"), "cannot_attend": N_("无法到场"), "certificate_lapsed": N_("证件失效"),
                        "left_department": N_("调离"), "deregistered": N_("已注销"), "not_operating": N_("未经营"),
                        "out_of_scope": N_("不在范围")}
# a step in a result's history
EVENT_LABELS = {"returned": N_("退回"), "answer": N_("主体意见"), "followup": N_("后续处置"),
                "followup_closed": N_("办结"), "penalty_published": N_("处罚信息公示"), "credit_linked": N_("记入信用记录")}
