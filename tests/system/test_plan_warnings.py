"""validate and launch warn on stderr about sends on a weekend or at night, a start without a time
and a reminder less than a day after the previous wave; they still succeed."""

from __future__ import annotations

from tests.system.test_cli_campaign import probe


def test_validate_and_launch_warn_about_the_weekend_and_midnight(campaign_factory, smtp_server, tmp_path):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/d.db",
                            sections={"schedule": {"start": "2027-01-11"}})
    for command in ("validate", "launch"):
        r = probe(command, camp.config, "--now", "2027-01-04T10:00:00")
        assert r.returncode == 0, r.stderr
        assert "warning: schedule.start has no time of day: it means midnight (Mon 2027-01-11 00:00 CET)" in r.stderr
        assert "warning: the initial email is due at night" in r.stderr
        assert "warning: reminder 1 is due on a Sunday" in r.stderr
        assert "warning: reminder 2 is due on a Saturday" in r.stderr
        assert "warning" not in r.stdout


def test_no_warning_for_a_weekday_morning_plan(campaign_factory, smtp_server, tmp_path):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/d.db",
                            sections={"schedule": {"start": "2027-01-11T09:00:00", "reminders": ["7d", "14d"]}})
    r = probe("validate", camp.config, "--now", "2027-01-04T10:00:00")
    assert r.returncode == 0 and "warning" not in r.stderr


def test_a_reminder_three_hours_later_is_flagged(campaign_factory, smtp_server, tmp_path):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/d.db",
                            sections={"schedule": {"start": "2027-01-11T09:00:00", "reminders": ["3h", "7d"]}})
    r = probe("validate", camp.config, "--now", "2027-01-04T10:00:00")
    assert r.returncode == 0
    assert "warning: reminder 1 comes 3 h after the initial email (less than a day)" in r.stderr
