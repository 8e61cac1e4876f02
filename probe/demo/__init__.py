"""`probe demo`: the founding case replayed end to end on embedded mail servers with simulated time.

people.py (the 50 directors) → scenario.py (who answers, when, how) → directors.py (they react to what
the SMTP server received) using mailstyles.py/wording.py (the messages real clients send) → run.py (the
loop over probe's real passes), with servers.py (aiosmtpd and pymap in this process) and campaign.py
(the campaign folder)."""
