"""Fidelity of the plan data to its seed, 泰民〔2023〕12号 (泰安市民政局, 2023-06-05).

config/departments.yaml and config/plans/2023.yaml are loaded with yaml.safe_load only
(never through a duban module). Every expected value here is typed from the seed
document itself, so a slip in the configuration cannot confirm itself.
"""

import re
from collections import Counter
from functools import cache

import pytest
import yaml

from tests.support.paths import CONFIG_DIR as CONFIG
from tests.support.paths import SEED as SEED_FILE

CN_NUMERALS = [
    "一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
    "十一", "十二", "十三", "十四", "十五", "十六", "十七",
]  # fmt: skip


def nows(text: str) -> str:
    """The text with every whitespace character removed."""
    return re.sub(r"\s+", "", text)


@cache
def departments_doc() -> dict:
    return yaml.safe_load((CONFIG / "departments.yaml").read_text(encoding="utf-8"))


@cache
def plan_doc() -> dict:
    return yaml.safe_load((CONFIG / "plans" / "2023.yaml").read_text(encoding="utf-8"))


def actions() -> dict[int, dict]:
    return {a["no"]: a for a in plan_doc()["actions"]}


def forms(dept: dict) -> list[str]:
    """Every written form a department answers to: canonical name, short form, aliases."""
    return [dept["name"], dept["short"], *(dept.get("aliases") or [])]


def resolve(form: str) -> dict:
    """The one department that a written form names."""
    hits = {d["code"]: d for d in departments_doc()["departments"] if form in forms(d)}
    assert len(hits) == 1, f"{form!r} resolves to {sorted(hits) or 'nothing'}"
    return next(iter(hits.values()))


# ---------------------------------------------------------------------------
# The seed, typed in
# ---------------------------------------------------------------------------

# The 17 action paragraphs verbatim (OCR page breaks joined), responsible parenthesis kept.
SEED_ACTIONS: dict[int, str] = {
    1: (
        "一、社区固本强基行动。推进社区“幸福家园”建设，开展党群服务中心“迭代升级”行动，推动构"
        "建布局合理、覆盖广泛的党群服务中心体系，优化整合党建、治理、服务等功能，提升党群服务"
        "中心综合使用效率。健全基层党组织领导的基层群众自治机制，推动村（居）民委员会规范化建"
        "设，强化人民调解、治安保卫、公共卫生、环境和物业、妇女和儿童等村（居）民委员会下属委"
        "员会工作联动。研究制定加强和规范城市社区工作者队伍建设的若干措施，推动专职网格员有序"
        "纳入社区工作者队伍管理，稳步扩大社区工作者规模，年底前按照“每万名城镇常住人口不少于 "
        "18 人”的标准配齐配强。培育发展社区社会组织，年内实现全市城市社区平均拥有不少于 12 个"
        "社区社会组织，农村社区平均拥有不少于 6 个社区社会组织。按照省美丽乡村建设标准，打造"
        "省级美丽乡村 24 个，助力我市宜居宜业和美乡村建设。（市委组织部、市委政法委、市公安局"
        "、市民政局、市司法局、市农业农村局、市卫生健康委按职责落实）"
    ),
    2: (
        "二、社区养老服务行动。推动实施特殊困难老年人家庭适老化改造工程，全市 2023 年改造不少"
        "于 2200 户，发展家庭养老床位不少于 500 张。鼓励各地因地制宜发展社区食堂，全市城乡社"
        "区助老食堂达到 300 家以上。加快建立特殊困难老年人探访关爱服务机制，月探访率达到 100%"
        "。实施养老服务人才培养提升行动，全年各级民政部门完成培养培训养老护理员 1500 人次。（"
        "市民政局、市市场监管局按职责落实）"
    ),
    3: (
        "三、社区未成年人关爱行动。落实孤困儿童基本生活保障标准动态调整机制，持续实施“孤儿医"
        "疗康复明天计划”、孤儿和事实无人抚养儿童助学工程、“护佑健康”孤困儿童大病保险项目，提"
        "升孤困儿童保障服务水平。推进乡镇（街道）未保工作站实体化、规范化、专业化建设，增强村"
        "（居）儿童主任服务能力，开展“五社联动”助力基层未成年人保护工作试点，积极引导社会力量"
        "参与，及时为困境儿童、农村留守儿童提供监护指导、精神慰藉、政策链接、转介帮扶等关爱服"
        "务。推动城乡社区家长学校或家庭教育指导服务站点建设，年底前城市社区建校（站点）率达到"
        " 80%，行政村建校（站点）率达到 70%。（市民政局、市妇联按职责落实）"
    ),
    4: (
        "四、社区助残服务行动。开展“如康家园”服务质量提升年活动。依托“如康家园”为残疾人提供日"
        "间照料、辅助性就业、社区康复、技能培训、文化体育、心理疏导、交流互助、助残业务办理等"
        "就近就便服务。推广“如康家园”社区康复服务规范，推进残疾人家庭医生签约服务与社区康复深"
        "度融合。结合全民阅读活动和社区文化建设，打造“如康书屋”或“如康书角”等，丰富残疾人文化"
        "生活。继续开展全市村（社区）残疾人协会建设抽样评估，提升基层残疾人组织规范化建设水平"
        "和服务能力。结合乡村建设行动等，同步推进社区无障碍环境建设和改造。（市残联、市住房城"
        "乡建设局、市农业农村局按职责落实）"
    ),
    5: (
        "五、社区就业服务行动。继续实施“十百千”就业服务质量提升工程，在全市评定一批就业服务质"
        "量标杆机构，推动就业服务质量全面提升。持续加强就业困难人员就业援助，确保全年实现失业"
        "人员再就业1万人、就业困难人员就业3700人。贯穿全年开展“春风行动暨就业援助月”等18项公"
        "共就业服务系列活动，形成特色活动品牌，扩大就业服务活动影响力。开展充分就业社区建设，"
        "结合社区发展需要和居民需求，支持在社区提供养老、托育、家政、物业、健康等服务的机构（"
        "含企业、事业单位、社会组织）加快发展，吸纳高校毕业生、登记失业人员等群体就业。（市人"
        "力资源社会保障局、市民政局按职责落实）"
    ),
    6: (
        "六、社区卫生服务行动。扎实推进“优质服务基层行”活动，年内推荐标准机构占比达到 45%以上"
        "。新建或由卫生院转型的社区卫生服务中心参照社区医院标准建设，推进建设名医基层工作站。"
        "在全市持续开展医养结合机构服务质量提升行动，进一步提高医养结合服务水平。对纳入社区管"
        "理的三级以上具有肇事肇祸倾向的严重精神障碍患者监护人，落实“以奖代补”政策，做到应补尽"
        "补，提升严重精神障碍患者救治救助水平。（市卫生健康委、市委政法委按职责落实）"
    ),
    7: (
        "七、社区教育行动。举办全民终身学习活动周。建立泰安市老年大学远程教育平台，推广“乐龄"
        "学堂”移动端 APP，推动全市老年大学共建共用泰安老年大学远程教育网、加强社区远程教育教"
        "学点建设。贯彻落实《山东省老年教育条例》，开展“争创全省基层老年教育示范校”活动，树立"
        "街道、社区老年教育办学标准化规范化典型。开展“老年教育进社区”活动，推进智能技术应用能"
        "力在社区的培训与普及。（市教育局、市委老干部局、市老年大学按职责落实）"
    ),
    8: (
        "八、社区文化服务行动。全面推进城乡新型公共文化空间建设，创新打造一批小而美的公共阅读"
        "和艺术空间，将文化创意融入社区生活。依托各级公共文化服务阵地，广泛开展全市群众性小戏"
        "小剧创演、冬春文化惠民季、“村晚”、群众合唱展演、广场舞展演等群众文化活动，强化示范引"
        "领，年底前推出不少于5个群众文化活动品牌，不断丰富基层群众文化生活。（市文化和旅游局"
        "落实）"
    ),
    9: (
        "九、社区体育服务行动。加大社区全民健身设施建设力度，开展社区公共体育器材设施的维护更"
        "新和提档升级工作。有序推进有条件的学校体育场地向社会开放，为周边社区居民健身提供便利"
        "。设立社区健身活动站点，为社区配备社会体育指导员。健全完善社区体育总会，发展群众身边"
        "自己的体育社会组织和全民健身志愿服务队，培育群众自己的健身活动项目，推进社区健身活动"
        "广泛开展，举办社区运动会超过 180 场，营造浓厚的全民健身氛围。（市体育局、市教育局、"
        "市民政局按职责落实）"
    ),
    10: (
        "十、社区科普服务行动。依托基层科普行动计划，在全市范围内支持 10—15 个村（社区）建设"
        "科普馆、户外科普场所等科普阵地，组织动员社会各方力量开展群众性、社会性、经常性的社区"
        "科普活动；充分利用科普大篷车、流动科技馆等流动科普资源，深入村（社区）组织开展流动科"
        "普巡展，助力村（社区）群众科学素质提升。（市科协落实）"
    ),
    11: (
        "十一、平安社区建设行动。坚持和发展新时代“枫桥经验”，推行城乡社区民警专职化、农村社区"
        "民警全员化，推动城区“一区一警两辅”、农村“一村一辅警”落实到位，协助社区驻村民警做实人"
        "口管理、社区防控、矛盾排查、纠纷调处等基础工作，加强社区警务与网格化联动，积极融入基"
        "层社会治理。规范村（社区）人民调解委员会工作，加强人民调解员队伍培训，扎实开展矛盾纠"
        "纷排查调处工作，努力实现小事不出村、大事不出镇、矛盾不上交。深入村（社区）开展多种形"
        "式的禁毒宣传教育活动，不断提升群众识毒防毒拒毒意识。落实社区矫正法，依法协助社区矫正"
        "机构做好社区矫正工作。（市委政法委、市公安局、市司法局按职责落实）"
    ),
    12: (
        "十二、法律服务社区行动。认真贯彻落实泰安市《全面推进公共法律服务体系建设方案》，加强"
        "公共法律服务设施建设，积极为人民群众提供法治宣传教育、法律咨询、法律援助、调解等服务"
        "，引导人民群众依法维权、依法办事。深化“乡村振兴法治同行”活动，组织村（居）法律顾问为"
        "村（居）治理提供法律意见、为群众提供法律咨询。推动仲裁服务融入基层社会治理，为社区群"
        "众解决民商事纠纷提供优质仲裁服务。持续开展乡村“法治带头人”“法律明白人”培养工作，培育"
        "农村学法用法示范户，提升村（社区）法治宣传教育水平。继续做好“全市民主法治示范村（社"
        "区）”创建命名工作。推动村（居）法律顾问通过人民法院调解平台开展实质性案件调解。（市"
        "司法局、市民政局、市法院按职责落实）"
    ),
    13: (
        "十三、社区应急服务行动。开展全市应急避难场所建设情况调查，形成全市应急避难场所数据库"
        "，充分发挥应急避难场所信息系统的作用，实现全市避难场所信息统一汇集、逐级备案、动态更"
        "新，为应急指挥调度提供支撑。深入开展安全宣传“进社区”活动，加大社区公益宣传力度，常态"
        "化开展安全知识宣传普及。开展基层应急预案体系建设试点工作，形成村（社区）等基层应急预"
        "案模板，推进应急预案管理工作向乡镇（街道）、村（社区）延伸。加强灾害信息员队伍建设，"
        "加大培训力度，提升灾害信息员业务能力，提高灾情报送水平。积极开展“红十字救在身边”行动"
        "，广泛开展应急救护知识普及工作，普及防灾减灾和自救互救知识。（市应急局、市卫健委按职"
        "责落实）"
    ),
    14: (
        "十四、社区共建共治共享行动。引导社区与社会组织、社会工作者、社区志愿者、社会慈善资源"
        "联动开展服务。推广落实村（社区）议事协商省级地方标准，推进基层党组织主导的基层民主协"
        "商制度化、规范化、程序化。积极推进社区基金发展，年内新增社区基金不少于30支。制发以群"
        "众满意度为主要衡量标准的社区服务质量评价指标体系相关文件，开展社区服务质量评价。深化"
        "党建引领网格管理服务，健全社区物业党建联建和协调共治机制，聚力提升城市基层精细化治理"
        "、精准化服务水平。（市委组织部、市民政局、市住房城乡建设局按职责落实）"
    ),
    15: (
        "十五、社区社会救助提升行动。加强村（社区）社会救助工作站（点）建设，全市村（社区）社"
        "会救助站（点）达到全覆盖。稳步提高城乡低保、特困人员等社会救助标准，大力发展服务类社"
        "会救助，将“物质+服务”救助下沉到村（社区），通过购买服务等方式，为社会救助家庭中生活"
        "不能自理的老年人、未成年人、残疾人等提供必要的访视、照料服务。开展社会力量参与社会救"
        "助优秀项目评审，鼓励引导社会力量灵活、有针对性地实施形式多样的救助项目，增强困难群众"
        "内生动力和自我发展能力。（市民政局落实）"
    ),
    16: (
        "十六、智慧社区建设突破行动。以县域为单位加快智慧社区整体建设，优化完善智慧社区服务平"
        "台，全面支撑社区智慧化的管理和需求，逐步构建可持续的建设运营模式。加强智慧社区建设经"
        "验的总结提炼，遴选建设一批标杆型智慧社区，引领带动各地开展智慧社区建设。年底前，累计"
        "建成不少于 120 个基础型及以上的智慧社区。（市大数据中心、市民政局按职责落实）"
    ),
    17: (
        "十七、社区减负增效行动。常态化整治形式主义为村级组织减负，让村（社区）有更多的时间为"
        "民服务，认真落实关于进一步规范村级组织工作事务、机制牌子和证明事项的制度文件，同步推"
        "动规范城市社区组织工作事务、机制牌子和证明事项相关工作。组织以县（市、区）为单位建立"
        "社区工作事项清单、社区综合考核评比项目清单、社区印章使用范围清单“三张清单”制度，年底"
        "前县（市、区）覆盖率达到 100%。（市委组织部、市委农办、市民政局按职责落实）"
    ),
}

# The header lines as the OCR gives them (cut and doubled lines kept) -> canonical name.
HEADER_LINES = [
    ("中共泰安市委组织部", "中共泰安市委组织部"),
    ("中共泰安市委政法委员会", "中共泰安市委政法委员会"),
    ("中共泰安市委农业农村委员会办公室", "中共泰安市委农业农村委员会办公室"),
    ("中共泰安市委老干部局", "中共泰安市委老干部局"),
    ("泰安市中级人民法院", "泰安市中级人民法院"),
    ("泰安市中级人民法", "泰安市中级人民法院"),
    ("泰安市教育局", "泰安市教育局"),
    ("泰安市公安局", "泰安市公安局"),
    ("泰安市人力资源和社会保障局", "泰安市人力资源和社会保障局"),
    ("泰安市住房和城乡建设局", "泰安市住房和城乡建设局"),
    ("泰安市农业农村局", "泰安市农业农村局"),
    ("泰安市文化和旅游局", "泰安市文化和旅游局"),
    ("泰安市卫生健康委员会", "泰安市卫生健康委员会"),
    ("泰安市应急管理理", "泰安市应急管理局"),
    ("泰安市市场监督管理", "泰安市市场监督管理局"),
    ("泰安市体育局", "泰安市体育局"),
    ("泰安市妇女儿童中", "泰安市妇女联合会"),
    ("泰安市科协", "泰安市科学技术协会"),
    ("泰安市残联", "泰安市残疾人联合会"),
]

# Every department form the clauses' responsible parentheses use -> canonical name.
CLAUSE_FORMS = {
    "市委组织部": "中共泰安市委组织部",
    "市委政法委": "中共泰安市委政法委员会",
    "市委农办": "中共泰安市委农业农村委员会办公室",
    "市委老干部局": "中共泰安市委老干部局",
    "市法院": "泰安市中级人民法院",
    "市教育局": "泰安市教育局",
    "市公安局": "泰安市公安局",
    "市民政局": "泰安市民政局",
    "市司法局": "泰安市司法局",
    "市人力资源社会保障局": "泰安市人力资源和社会保障局",
    "市住房城乡建设局": "泰安市住房和城乡建设局",
    "市农业农村局": "泰安市农业农村局",
    "市文化和旅游局": "泰安市文化和旅游局",
    "市卫生健康委": "泰安市卫生健康委员会",
    "市卫健委": "泰安市卫生健康委员会",
    "市应急局": "泰安市应急管理局",
    "市市场监管局": "泰安市市场监督管理局",
    "市体育局": "泰安市体育局",
    "市妇联": "泰安市妇女联合会",
    "市科协": "泰安市科学技术协会",
    "市残联": "泰安市残疾人联合会",
    "市老年大学": "泰安市老年大学",
    "市大数据中心": "泰安市大数据中心",
}

# The addressee line: 各县（市、区）党委组织部、政法委、农业农村委员会办公室、老干部局，
# 各县（市、区）民政局，各县（市、区）法院，各县（市、区）教育和体育局、公安局、司法局、
# 人力资源社会保障局、住房城乡建设局、农业农村局、文化和旅游局、卫生健康委、应急局、
# 市场监管局、体育局、大数据中心，各县（市、区）妇联、科协、残联
# -> the city department each counterpart belongs to.
COUNTY_ADDRESSEES = {
    "党委组织部": "中共泰安市委组织部",
    "政法委": "中共泰安市委政法委员会",
    "农业农村委员会办公室": "中共泰安市委农业农村委员会办公室",
    "老干部局": "中共泰安市委老干部局",
    "民政局": "泰安市民政局",
    "法院": "泰安市中级人民法院",
    "教育和体育局": "泰安市教育局",
    "公安局": "泰安市公安局",
    "司法局": "泰安市司法局",
    "人力资源社会保障局": "泰安市人力资源和社会保障局",
    "住房城乡建设局": "泰安市住房和城乡建设局",
    "农业农村局": "泰安市农业农村局",
    "文化和旅游局": "泰安市文化和旅游局",
    "卫生健康委": "泰安市卫生健康委员会",
    "应急局": "泰安市应急管理局",
    "市场监管局": "泰安市市场监督管理局",
    "体育局": "泰安市体育局",
    "大数据中心": "泰安市大数据中心",
    "妇联": "泰安市妇女联合会",
    "科协": "泰安市科学技术协会",
    "残联": "泰安市残疾人联合会",
}

# code, canonical name, short form (as the clauses write it), county counterpart.
DEPARTMENTS = [
    ("mzj", "泰安市民政局", "市民政局", "民政局"),
    ("zzb", "中共泰安市委组织部", "市委组织部", "党委组织部"),
    ("zfw", "中共泰安市委政法委员会", "市委政法委", "政法委"),
    ("nb", "中共泰安市委农业农村委员会办公室", "市委农办", "农业农村委员会办公室"),
    ("lgbj", "中共泰安市委老干部局", "市委老干部局", "老干部局"),
    ("fy", "泰安市中级人民法院", "市法院", "法院"),
    ("jyj", "泰安市教育局", "市教育局", "教育和体育局"),
    ("gaj", "泰安市公安局", "市公安局", "公安局"),
    ("rsj", "泰安市人力资源和社会保障局", "市人力资源社会保障局", "人力资源社会保障局"),
    ("zjj", "泰安市住房和城乡建设局", "市住房城乡建设局", "住房城乡建设局"),
    ("nyj", "泰安市农业农村局", "市农业农村局", "农业农村局"),
    ("wlj", "泰安市文化和旅游局", "市文化和旅游局", "文化和旅游局"),
    ("wjw", "泰安市卫生健康委员会", "市卫生健康委", "卫生健康委"),
    ("yjj", "泰安市应急管理局", "市应急局", "应急局"),
    ("scjgj", "泰安市市场监督管理局", "市市场监管局", "市场监管局"),
    ("tyj", "泰安市体育局", "市体育局", "体育局"),
    ("fl", "泰安市妇女联合会", "市妇联", "妇联"),
    ("kx", "泰安市科学技术协会", "市科协", "科协"),
    ("cl", "泰安市残疾人联合会", "市残联", "残联"),
    ("sfj", "泰安市司法局", "市司法局", "司法局"),
    ("lndx", "泰安市老年大学", "市老年大学", None),
    ("dsjzx", "泰安市大数据中心", "市大数据中心", "大数据中心"),
]

JURISDICTIONS = [
    ("city", "泰安市", "city"),
    ("taishan", "泰山区", "county"),
    ("daiyue", "岱岳区", "county"),
    ("xintai", "新泰市", "county"),
    ("feicheng", "肥城市", "county"),
    ("ningyang", "宁阳县", "county"),
    ("dongping", "东平县", "county"),
    ("gaoxin", "泰安高新技术产业开发区", "zone"),
    ("taishanjq", "泰山风景名胜区", "zone"),
    ("lvjing", "泰安旅游经济开发区", "zone"),
]

# no, title, responsible departments as the seed writes them (lead first), lead's canonical name,
# and how the parenthesis ends (按职责落实 when several share the work, 落实 for one).
# fmt: off
ACTIONS = [
    (1, "社区固本强基行动",
     ["市委组织部", "市委政法委", "市公安局", "市民政局", "市司法局", "市农业农村局",
      "市卫生健康委"], "中共泰安市委组织部", "按职责落实"),
    (2, "社区养老服务行动", ["市民政局", "市市场监管局"], "泰安市民政局", "按职责落实"),
    (3, "社区未成年人关爱行动", ["市民政局", "市妇联"], "泰安市民政局", "按职责落实"),
    (4, "社区助残服务行动", ["市残联", "市住房城乡建设局", "市农业农村局"],
     "泰安市残疾人联合会", "按职责落实"),
    (5, "社区就业服务行动", ["市人力资源社会保障局", "市民政局"],
     "泰安市人力资源和社会保障局", "按职责落实"),
    (6, "社区卫生服务行动", ["市卫生健康委", "市委政法委"], "泰安市卫生健康委员会", "按职责落实"),
    (7, "社区教育行动", ["市教育局", "市委老干部局", "市老年大学"], "泰安市教育局", "按职责落实"),
    (8, "社区文化服务行动", ["市文化和旅游局"], "泰安市文化和旅游局", "落实"),
    (9, "社区体育服务行动", ["市体育局", "市教育局", "市民政局"], "泰安市体育局", "按职责落实"),
    (10, "社区科普服务行动", ["市科协"], "泰安市科学技术协会", "落实"),
    (11, "平安社区建设行动", ["市委政法委", "市公安局", "市司法局"],
     "中共泰安市委政法委员会", "按职责落实"),
    (12, "法律服务社区行动", ["市司法局", "市民政局", "市法院"], "泰安市司法局", "按职责落实"),
    (13, "社区应急服务行动", ["市应急局", "市卫健委"], "泰安市应急管理局", "按职责落实"),
    (14, "社区共建共治共享行动", ["市委组织部", "市民政局", "市住房城乡建设局"],
     "中共泰安市委组织部", "按职责落实"),
    (15, "社区社会救助提升行动", ["市民政局"], "泰安市民政局", "落实"),
    (16, "智慧社区建设突破行动", ["市大数据中心", "市民政局"], "泰安市大数据中心", "按职责落实"),
    (17, "社区减负增效行动", ["市委组织部", "市委农办", "市民政局"],
     "中共泰安市委组织部", "按职责落实"),
]

# Every quantified target the seed states:
# (action, op, value, unit, rollup, cumulative, deadline, local, the seed's words).
TARGETS = [
    (1, "at_least", 18, "人/万人", "min", False, "year_end", True,
     "年底前按照“每万名城镇常住人口不少于 18 人”的标准配齐配强"),
    (1, "at_least", 12, "个", "average", False, "within_year", True,
     "年内实现全市城市社区平均拥有不少于 12 个社区社会组织"),
    (1, "at_least", 6, "个", "average", False, "within_year", True,
     "农村社区平均拥有不少于 6 个社区社会组织"),
    (1, "exactly", 24, "个", "sum", False, "within_year", True, "打造省级美丽乡村 24 个"),
    (2, "at_least", 2200, "户", "sum", False, "within_year", True,
     "全市 2023 年改造不少于 2200 户"),
    (2, "at_least", 500, "张", "sum", False, "within_year", True, "发展家庭养老床位不少于 500 张"),
    (2, "at_least", 300, "家", "sum", True, "within_year", True,
     "全市城乡社区助老食堂达到 300 家以上"),
    (2, "at_least", 100, "%", "min", False, "monthly", True, "月探访率达到 100%"),
    (2, "at_least", 1500, "人次", "sum", False, "within_year", True,
     "全年各级民政部门完成培养培训养老护理员 1500 人次"),
    (3, "at_least", 80, "%", "average", False, "year_end", True,
     "年底前城市社区建校（站点）率达到 80%"),
    (3, "at_least", 70, "%", "average", False, "year_end", True, "行政村建校（站点）率达到 70%"),
    (5, "at_least", 10000, "人", "sum", False, "within_year", True,
     "确保全年实现失业人员再就业1万人"),
    (5, "at_least", 3700, "人", "sum", False, "within_year", True, "就业困难人员就业3700人"),
    (5, "exactly", 18, "项", "sum", False, "through_year", False,
     "贯穿全年开展“春风行动暨就业援助月”等18项公共就业服务系列活动"),
    (6, "at_least", 45, "%", "average", False, "within_year", True,
     "年内推荐标准机构占比达到 45%以上"),
    (8, "at_least", 5, "个", "sum", False, "year_end", True, "年底前推出不少于5个群众文化活动品牌"),
    (9, "more_than", 180, "场", "sum", False, "within_year", True, "举办社区运动会超过 180 场"),
    (10, "range", (10, 15), "个", "sum", False, "within_year", True,
     "在全市范围内支持 10—15 个村（社区）建设科普馆、户外科普场所等科普阵地"),
    (14, "at_least", 30, "支", "sum", False, "within_year", True, "年内新增社区基金不少于30支"),
    (15, "full_coverage", 100, "%", "all_covered", False, "within_year", True,
     "全市村（社区）社会救助站（点）达到全覆盖"),
    (16, "at_least", 120, "个", "sum", True, "year_end", True,
     "年底前，累计建成不少于 120 个基础型及以上的智慧社区"),
    (17, "full_coverage", 100, "%", "all_covered", False, "year_end", True,
     "年底前县（市、区）覆盖率达到 100%"),
]

# fmt: on

ACTIONS_WITHOUT_TARGETS = {4, 7, 11, 12, 13}

OPS = {"at_least", "more_than", "exactly", "range", "full_coverage"}
DEADLINES = {"year_end", "within_year", "monthly", "through_year"}
ROLLUPS = {"sum", "average", "min", "all_covered"}
TARGET_FIELDS = {
    "key", "title", "measure", "op", "value", "unit", "deadline", "rollup", "cumulative",
    "period", "local", "source",
}  # fmt: skip
KEY_RE = re.compile(r"^[a-z0-9-]+$")
CODE_RE = re.compile(r"^[a-z][a-z0-9]*$")


def config_target_rows() -> list[tuple]:
    rows = []
    for no, action in actions().items():
        for t in action.get("targets") or []:
            value = tuple(t["value"]) if isinstance(t["value"], list) else t["value"]
            rest = (t[f] for f in ("unit", "rollup", "cumulative", "deadline", "local", "source"))
            rows.append((no, t["op"], value, *rest))
    return rows


# ---------------------------------------------------------------------------
# The embedded seed agrees with the seed file (vendored in docs/source/)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("no", range(1, 18))
def test_embedded_seed_matches_seed_file(no):
    assert nows(SEED_ACTIONS[no]) in nows(SEED_FILE.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------
# Plan identity and actions
# ---------------------------------------------------------------------------


def test_plan_identity():
    plan = plan_doc()["plan"]
    assert plan["key"] == "taimin-2023-12"
    assert plan["title"] == "2023年“新时代新社区新生活”服务质量提升行动方案"
    assert plan["doc_no"] == "泰民〔2023〕12号"
    assert resolve(plan["issuer"])["name"] == "泰安市民政局"
    assert str(plan["issued"]) == "2023-06-05"
    assert plan["year"] == 2023
    assert plan["timezone"] == "Asia/Shanghai"
    assert str(plan["ends"]) == "2023-12-31"


def test_action_numbers():
    numbers = [a["no"] for a in plan_doc()["actions"]]
    assert numbers == list(range(1, 18))


@pytest.mark.parametrize(("no", "title", "depts", "lead", "tail"), ACTIONS)
def test_action_title_and_departments(no, title, depts, lead, tail):
    action = actions()[no]
    assert action["title"] == title
    assert action["departments"] == depts
    assert resolve(action["departments"][0])["name"] == lead
    for form in action["departments"]:
        assert resolve(form)["name"] == CLAUSE_FORMS[form]


@pytest.mark.parametrize(("no", "title", "depts", "lead", "tail"), ACTIONS)
def test_action_clause_is_the_seed_text(no, title, depts, lead, tail):
    seed = nows(SEED_ACTIONS[no])
    prefix = f"{CN_NUMERALS[no - 1]}、{title}。"
    suffix = f"（{'、'.join(depts)}{tail}）"
    assert seed.startswith(prefix)
    assert seed.endswith(suffix)
    clause = nows(actions()[no]["clause"])
    assert clause in seed
    assert clause == seed[len(prefix) : -len(suffix)]
    # and verbatim, with the seed's own spacing ("不少于 18 人")
    verbatim = SEED_ACTIONS[no][len(prefix) : -len(suffix)]
    assert actions()[no]["clause"] == verbatim


# ---------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("row", TARGETS, ids=[f"{r[0]}-{r[8]}" for r in TARGETS])
def test_seed_target_is_in_config(row):
    assert row in config_target_rows()


def test_no_target_beyond_the_seed():
    extra = Counter(config_target_rows()) - Counter(TARGETS)
    missing = Counter(TARGETS) - Counter(config_target_rows())
    assert not extra, f"targets the seed does not state: {list(extra)}"
    assert not missing, f"seed targets missing: {list(missing)}"


def test_actions_without_numbers_have_no_targets():
    for no in ACTIONS_WITHOUT_TARGETS:
        assert not actions()[no].get("targets")
    assert {row[0] for row in TARGETS} == set(range(1, 18)) - ACTIONS_WITHOUT_TARGETS


@pytest.mark.parametrize("row", TARGETS, ids=[f"{r[0]}-{r[8]}" for r in TARGETS])
def test_target_source_is_seed_text(row):
    assert nows(row[8]) in nows(SEED_ACTIONS[row[0]])


def test_target_fields():
    for no, action in actions().items():
        for t in action.get("targets") or []:
            assert set(t) >= TARGET_FIELDS, (no, t.get("key"))
            assert KEY_RE.match(t["key"]), t["key"]
            assert t["title"] and t["measure"]
            assert t["op"] in OPS
            assert t["deadline"] in DEADLINES
            assert t["rollup"] in ROLLUPS
            assert t["period"] == "monthly"
            assert isinstance(t["cumulative"], bool) and isinstance(t["local"], bool)
            if t["op"] == "range":
                low, high = t["value"]
                assert low < high
            else:
                assert isinstance(t["value"], int | float)
            if t["op"] == "full_coverage":
                assert (t["value"], t["unit"], t["rollup"]) == (100, "%", "all_covered")
            if "owner" in t:
                assert t["owner"] in action["departments"], t["key"]


# ---------------------------------------------------------------------------
# Milestones
# ---------------------------------------------------------------------------


def test_keys_unique_across_plan():
    keys = [
        item["key"]
        for action in plan_doc()["actions"]
        for item in (action.get("targets") or []) + (action.get("milestones") or [])
    ]
    assert len(keys) == len(set(keys)), [k for k, n in Counter(keys).items() if n > 1]
    assert all(KEY_RE.match(k) for k in keys)


@pytest.mark.parametrize("no", range(1, 18))
def test_milestones(no):
    action = actions()[no]
    milestones = action.get("milestones") or []
    assert milestones, f"action {no} has no milestone"
    for m in milestones:
        assert m["title"] and m["deliverable"], m["key"]
        assert m["due"] == "year_end", m["key"]
        if "owner" in m:
            assert m["owner"] in action["departments"], m["key"]
            resolve(m["owner"])


# ---------------------------------------------------------------------------
# Departments and jurisdictions
# ---------------------------------------------------------------------------


def test_jurisdictions():
    got = [(j["code"], j["name"], j["kind"]) for j in departments_doc()["jurisdictions"]]
    assert got == JURISDICTIONS


def test_department_table():
    got = sorted(
        (d["code"], d["name"], d["short"], d["county"]) for d in departments_doc()["departments"]
    )
    assert got == sorted(DEPARTMENTS, key=lambda row: row[0])


def test_every_form_resolves_to_exactly_one_department():
    owners: dict[str, set[str]] = {}
    for d in departments_doc()["departments"]:
        assert CODE_RE.match(d["code"]), d["code"]
        for form in forms(d):
            owners.setdefault(form, set()).add(d["code"])
    shared = {form: codes for form, codes in owners.items() if len(codes) > 1}
    assert not shared, shared
    codes = [d["code"] for d in departments_doc()["departments"]]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(("line", "name"), HEADER_LINES)
def test_header_line_resolves(line, name):
    assert resolve(line)["name"] == name


@pytest.mark.parametrize(("form", "name"), CLAUSE_FORMS.items())
def test_clause_form_resolves(form, name):
    assert resolve(form)["name"] == name


def test_clause_forms_cover_every_action_department():
    used = {form for _, _, depts, _, _ in ACTIONS for form in depts}
    assert used == set(CLAUSE_FORMS)


@pytest.mark.parametrize(("county", "name"), COUNTY_ADDRESSEES.items())
def test_county_counterpart(county, name):
    assert resolve(name)["county"] == county
    assert resolve(county)["name"] == name


def test_no_county_counterpart_beyond_the_addressee_line():
    counties = {d["county"] for d in departments_doc()["departments"]} - {None}
    assert counties == set(COUNTY_ADDRESSEES)
    assert resolve("市老年大学")["county"] is None
