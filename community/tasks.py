"""Community tasks: thin, by id, safe to run twice (every email they queue has its own key)."""

from celery import shared_task


@shared_task(name="community.fan_out_update")
def fan_out_update(update_id):
    """Email an update to its audience (supporters, followers) per their settings."""
    from community import updates

    return updates.fan_out(update_id)


@shared_task(name="community.sweep")
def sweep():
    """Beat's follower sweep: launch emails, the 48-hour reminder, and updates that turned
    public since they were posted (their wider audience is emailed then), and updates whose
    fan-out task message was lost."""
    from community import follows, updates

    return {
        "follower_emails": follows.send_follower_emails(),
        "updates_turned_public": updates.fan_out_turned_public(),
        "updates_fanned_out_late": updates.fan_out_lost(),
    }
