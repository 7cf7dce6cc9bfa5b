"""Payment codes (付款码) charged through WeChat Pay and Alipay from the desk: the providers' clients (wechat_pay.py,
alipay.py) behind one shape of answer (providers.py), and the charge that books exactly once (charge.py)."""
