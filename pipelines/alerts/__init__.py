"""Budget threshold crossings and cost anomalies as alerts: which are new (`messages`), and sending them once
(`send`: print, post to the webhook, record in gold.alert_log)."""
