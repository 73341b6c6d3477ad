"""The town's own words for GridPatrol's codes: violation kinds, case states, actions, roles
and channels, as a Chinese urban-management platform names them (the msgids are English; the
zh-CN catalogue holds the platform's terms). The codes themselves (``parked_bike``,
``dispatched``, ...) never change; ``tests/test_i18n.py`` checks every kind, state, action and
role of the code has its word here."""

from __future__ import annotations

from i18n import N_, Translator, Word

KINDS = {
    "parked_bike": N_("Non-motor vehicle parked illegally"),  # 非机动车乱停放
    "cross_door_trading": N_("Cross-door trading"),  # 跨门经营
}

STATES = {
    "reported": N_("Reported"),  # 已上报
    "owner_notified": N_("Shop owner told to put it right"),  # 待商户自行整改
    "dispatched": N_("Dispatched"),  # 已派遣
    "accepted": N_("Accepted"),  # 已受理
    "returned": N_("Returned"),  # 已退回
    "consult": N_("In consultation"),  # 会商中
    "handled": N_("Handled"),  # 已处置
    "rework": N_("Rework"),  # 返工
    "verified": N_("Verified"),  # 已核查
    "rated": N_("Rated"),  # 已评价
    "closed": N_("Closed"),  # 已结案
    "void": N_("Void"),  # 作废
}

ACTIONS = {
    "dispatch": N_("Dispatch"),
    "accept": N_("Accept"),
    "return": N_("Return"),
    "reroute": N_("Re-route"),
    "consult": N_("Consult"),
    "resume": N_("Resume"),
    "handle": N_("Handle"),
    "reject": N_("Send back for rework"),
    "verify": N_("Verify"),
    "rate": N_("Rate"),
    "close": N_("Close"),
    "extend": N_("Extend the deadline"),
    "void": N_("Void"),
    "escalate": N_("Escalate"),
    "report": N_("Reported by the camera"),  # 发现
    "notify_owner": N_("Rectification notice to the shop owner"),  # 整改通知
    "self_correct": N_("Put right by the shop"),  # 自行整改
    "join": N_("Seen again by the camera"),
    "delivered": N_("Delivered"),
}

ROLES = {
    "worker": N_("Micro-grid worker"),  # 微网格员
    "leader": N_("Micro-grid leader"),  # 微网格长
    "department": N_("Line department"),  # 条线部门
    "dispatcher": N_("Dispatcher"),  # 调度员
    "admin": N_("Administrator"),  # 管理员
    "system": N_("System"),  # 系统
    "resident": N_("Resident"),  # 居民
    "camera": N_("Camera"),
}

CHANNELS = {
    "inbox": N_("App inbox"),
    "webpush": N_("Phone notification"),
    "wecom_app": N_("WeCom"),
    "dingtalk_app": N_("DingTalk"),
    "robot": N_("Group robot"),
    "sms": N_("SMS"),
    "webhook": N_("Webhook"),
}

CAMERA_STATES = {
    "online": N_("Online"),
    "offline": N_("Offline"),
    "stalled": N_("Stalled"),
    "suspended": N_("View changed"),
    "unknown": N_("Unknown"),
}

NOTIFICATION_STATES = {
    "standby": N_("Standing by"),
    "pending": N_("Pending"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
    "skipped": N_("Skipped"),
}

# The monthly assessment's columns (the CSV's headings and the statistics tab's).
ASSESSMENT = {
    "month": N_("Month"), "group": N_("Worker or micro-grid"), "cases": N_("Cases"), "voided": N_("Void"),
    "accepted_on_time_rate": N_("Accepted on time"), "closing_rate": N_("Closing rate"),
    "handled_on_time_rate": N_("Handled on time"), "mean_response_min": N_("Mean response (min)"),
    "mean_handling_min": N_("Mean handling (min)"), "rework_rate": N_("Rework rate"),
    "satisfaction": N_("Satisfaction (1-5)"), "ratings": N_("Ratings"),
    "self_corrected": N_("Put right by the shop"),
    "patrol_reports": N_("Patrol reports"),
    "online_rate": N_("Online rate"),
}

TIMERS = {  # the deadlines a case keeps (dispatcher/cases/delivery.py)
    "accept": N_("Acceptance"),  # 受理
    "handle": N_("Handling"),  # 处置
    "deliver": N_("Delivery"),  # 送达
    "owner": N_("Shop's own correction"),  # 商户自行整改
}

SOURCES = {
    "camera": N_("Camera"),
    "patrol": N_("Patrol report"),  # 巡查上报
    "hotline": N_("Hotline 12345"),  # 12345 热线
}

TERMS = {"kind": KINDS, "state": STATES, "action": ACTIONS, "role": ROLES, "channel": CHANNELS,
         "camera_state": CAMERA_STATES, "source": SOURCES, "timer": TIMERS, "notification": NOTIFICATION_STATES,
         "assessment": ASSESSMENT}


def term(tr: Translator, group: str, code: str) -> str:
    """The town's word for ``code`` of ``group`` (``kind``, ``state``, ...); the code itself
    when there is none."""
    msgid = TERMS.get(group, {}).get(code)
    return tr._(msgid) if msgid else code


def terms(tr: Translator) -> dict[str, dict[str, str]]:
    """Every group's words in ``tr``'s language, for the pages."""
    return {group: {code: tr._(msgid) for code, msgid in words.items()} for group, words in TERMS.items()}


def word(group: str, code: str) -> Word:
    """``code`` of ``group`` as a value inside a message (see :class:`i18n.Word`)."""
    return Word(code, TERMS.get(group, {}).get(code))
