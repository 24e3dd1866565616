"""Reports to .xlsx (openpyxl, with native charts) and PDF (reportlab).

The PDF uses reportlab's built-in CID font STSong-Light (Adobe-GB1): Chinese is encoded with
no font file to ship or find, and the PDF stays small because the font is referenced, not
embedded (desktop readers carry Adobe-GB1 support or substitute a system Chinese font). A
machine with no Chinese font at all cannot draw those glyphs, so when a TrueType Chinese font
is configured ($DRAWSVC_PDF_FONT) or found in a usual place, it is embedded instead.
"""

from __future__ import annotations

import io
import os
from typing import Any

from drawsvc.i18n import N_

from .service import TRIGGERS

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FONT = "STSong-Light"
TTF_CANDIDATES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                  "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc", "C:/Windows/Fonts/simsun.ttc",
                  "/System/Library/Fonts/Supplemental/Songti.ttc")
ROW_HEADERS = ["抽查事项编码", "抽查事项名称", "抽查比例", "抽查对象数（户）", "发现问题数（户）", "公示数（户）"]
SUMMARY_LABELS = {
    "tasks_created": N_("生成检查任务数"), "checks": N_("完成检查数"), "joint_checks": N_("部门联合检查数"), "draws": N_("公示的抽签次数"),
    "published": N_("公示结果数"), "published_on_time": N_("按时公示数"),
    "deadlines_approximate": N_("其中期限按周一至周五近似计算数（该年节假日安排未加载）"), "answers": N_("被检查对象意见数"), "credit_links": N_("信用记录关联次数"),
    "checks_by_kind": N_("检查方式"), "follow_up_ends": N_("后续处置结果"), "not_random_by_trigger": N_("非随机检查的来源"),
}
KIND_LABELS = {"random": N_("双随机抽查"), "not_random": N_("非随机检查（投诉举报、转办交办等）")}
# The labels of a mapping summary's keys (msgids): what the page and the files show instead of the
# stored codes (`random`, `complaint`); follow_up_ends is already keyed by its labels.
SUMMARY_VALUE_LABELS: dict[str, dict[str, str]] = {"checks_by_kind": KIND_LABELS, "not_random_by_trigger": TRIGGERS}
CHART_TITLES = {"checks_per_month": N_("各月检查数"), "results_by_category": N_("检查结果分类"),
                "checks_by_credit_class": N_("按信用风险分类的检查数")}


def filename(rep: dict[str, Any]) -> str:
    tail = f"{rep['year']}-{rep['month']:02d}" if rep.get("month") else \
        f"{rep['year']}-H{rep['half']}" if rep.get("half") else str(rep["year"])
    return f"{rep['kind']}-{rep.get('department') or 'all'}-{tail}"


def _summary_rows(rep: dict[str, Any]) -> list[tuple[str, Any]]:
    s = rep.get("summary") or {}
    rows: list[tuple[str, Any]] = [(SUMMARY_LABELS.get(k, k), v) for k, v in s.items() if not isinstance(v, dict)]
    for k, v in s.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                rows.append((f"{SUMMARY_LABELS.get(k, k)}：{SUMMARY_VALUE_LABELS.get(k, {}).get(kk, kk)}", vv))
    return rows


def to_xlsx(rep: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, PieChart, Reference
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "报表"
    ws.append([rep["title"]])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([f"填报单位：{rep.get('department_name') or '全部部门'}", f"期间：{rep['period']['start']} 至 {rep['period']['end']}",
               f"日志位置：{rep['verification']['log_size']}"])
    ws.append([])
    ws.append(["一、“双随机、一公开”制度机制建设情况"])
    for s in rep["section1"]:
        ws.append([s["no"], s["question"], s["answer"]])
    ws.append([])
    ws.append(["二、随机抽查工作开展情况"])
    ws.append(ROW_HEADERS)
    for r in rep["rows"]:
        ws.append([r["item_code"], r["item_name"], r["ratio"], r["checked"], r["problems"], r["published"]])
    t = rep["totals"]
    ws.append(["合计", "", "", t["checked"], t["problems"], t["published"]])
    if rep.get("summary"):
        ws.append([])
        ws.append(["三、工作总结"])
        for label, value in _summary_rows(rep):
            ws.append([label, value])
    for col, width in zip("ABCDEF", (16, 44, 30, 16, 16, 14), strict=True):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    charts = wb.create_sheet("图表")
    col = 1
    for key, data in rep["charts"].items():
        if not data:
            continue
        charts.cell(row=1, column=col, value=CHART_TITLES.get(key, key))
        charts.cell(row=1, column=col + 1, value="数量")
        for i, (k, v) in enumerate(data.items(), start=2):
            charts.cell(row=i, column=col, value=k)
            charts.cell(row=i, column=col + 1, value=v)
        n = len(data)
        chart = PieChart() if key == "checks_by_credit_class" else BarChart()
        chart.title = CHART_TITLES.get(key, key)
        values = Reference(charts, min_col=col + 1, min_row=1, max_row=n + 1)
        labels = Reference(charts, min_col=col, min_row=2, max_row=n + 1)
        chart.add_data(values, titles_from_data=True)
        chart.set_categories(labels)
        chart.width, chart.height = 16, 8
        charts.add_chart(chart, f"{charts.cell(row=n + 4, column=col).coordinate}")
        col += 4
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _register_font(pdfmetrics: Any, cid: Any) -> None:
    """STSong-Light (CID, not embedded) unless a TrueType CJK font is configured or installed:
    then it is embedded (subset), so a reader without Chinese fonts renders it too."""
    global FONT
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    for path in [os.environ.get("DRAWSVC_PDF_FONT", ""), *TTF_CANDIDATES]:
        if path and os.path.exists(path):
            from reportlab.pdfbase.ttfonts import TTFont

            try:
                pdfmetrics.registerFont(TTFont("CJK", path, subfontIndex=0))
            except Exception:  # noqa: BLE001 - an unusable font file falls back to the CID font
                continue
            FONT = "CJK"
            return
    pdfmetrics.registerFont(cid(FONT))


def _bar(data: dict[str, int], title: str, width: float, horizontal: bool = False) -> Any:
    from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    height = 170 if not horizontal else 40 + 22 * max(1, len(data))
    d = Drawing(width, height + 20)
    d.add(String(width / 2, height + 6, title, fontName=FONT, fontSize=11, textAnchor="middle"))
    chart = HorizontalBarChart() if horizontal else VerticalBarChart()
    chart.x, chart.y = (170, 15) if horizontal else (35, 35)
    chart.width = width - (190 if horizontal else 50)
    chart.height = height - (25 if horizontal else 45)
    values = list(data.values()) or [0]
    chart.data = [values]
    chart.categoryAxis.categoryNames = list(data.keys()) or ["—"]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 8
    if not horizontal:
        chart.categoryAxis.labels.angle = 30 if len(data) > 6 else 0
        chart.categoryAxis.labels.dy = -8
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max(values + [1]) * 1.15
    chart.valueAxis.labels.fontSize = 8
    chart.bars[0].fillColor = colors.HexColor("#2f6fad")
    chart.barLabelFormat = "%d"
    chart.barLabels.fontSize = 7
    chart.barLabels.nudge = 6
    d.add(chart)
    return d


def to_pdf(rep: dict[str, Any]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_font(pdfmetrics, UnicodeCIDFont)
    title = ParagraphStyle("t", fontName=FONT, fontSize=15, leading=20, alignment=1, spaceAfter=6)
    h = ParagraphStyle("h", fontName=FONT, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4)
    body = ParagraphStyle("b", fontName=FONT, fontSize=9, leading=12, wordWrap="CJK")
    small = ParagraphStyle("s", parent=body, fontSize=7.5, leading=10, textColor=colors.grey)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=rep["title"])
    width = A4[0] - 30 * mm
    grid = TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 9),
                       ("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                       ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef6"))])

    def p(text: Any) -> Any:
        return Paragraph(str(text), body)

    story: list[Any] = [Paragraph(rep["title"], title),
                        Paragraph(f"填报单位（地区）：{rep.get('department_name') or '全部部门'}　　期间：{rep['period']['start']} 至 "
                                  f"{rep['period']['end']}", body), Spacer(1, 4 * mm),
                        Paragraph("一、“双随机、一公开”制度机制建设情况", h)]
    t1 = Table([[p("序号"), p("项目"), p("情况")]] + [[p(s["no"]), p(s["question"]), p(s["answer"])]
                                                   for s in rep["section1"]], colWidths=[12 * mm, 80 * mm, width - 92 * mm])
    t1.setStyle(grid)
    story += [t1, Paragraph("二、随机抽查工作开展情况", h)]
    tot = rep["totals"]
    rows = [[p(x) for x in ROW_HEADERS[1:]]] + [[p(r["item_name"]), p(r["ratio"]), r["checked"], r["problems"],
                                                   r["published"]] for r in rep["rows"]]
    rows.append([p("合计"), "", tot["checked"], tot["problems"], tot["published"]])
    t2 = Table(rows, colWidths=[62 * mm, 48 * mm, (width - 110 * mm) / 3, (width - 110 * mm) / 3, (width - 110 * mm) / 3])
    t2.setStyle(grid)
    story.append(t2)
    if rep.get("summary"):
        story.append(Paragraph("三、工作总结", h))
        t3 = Table([[p("指标"), p("数值")]] + [[p(a), p(b)] for a, b in _summary_rows(rep)],
                   colWidths=[90 * mm, width - 90 * mm])
        t3.setStyle(grid)
        story.append(t3)
    story.append(Paragraph("图表", h))
    charts = rep["charts"]
    story.append(_bar(charts["checks_per_month"], CHART_TITLES["checks_per_month"], width))
    if charts["results_by_category"]:
        story.append(_bar(charts["results_by_category"], CHART_TITLES["results_by_category"], width, horizontal=True))
    if charts["checks_by_credit_class"]:
        story.append(_bar(charts["checks_by_credit_class"], CHART_TITLES["checks_by_credit_class"], width))
    v = rep["verification"]
    story += [Spacer(1, 4 * mm), Paragraph(
        f"本表数据由日志前 {v['log_size']} 条记录计算得出，可复核：{v['how']}。"
        + (f"复核异常：{'；'.join(v['broken'])}" if v["broken"] else "已逐条核对公示内容与录入时的承诺值，一致。"), small)]
    doc.build(story)
    return out.getvalue()
