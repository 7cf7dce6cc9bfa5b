"""mms — the terminal front desk for membership businesses (会员管理系统)."""

__version__ = "0.1.0"
