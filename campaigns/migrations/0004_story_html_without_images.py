"""Re-render stored story HTML so images kept by the old sanitizer (a bare `<img src="x">` left
over from `<img src=x onerror=...>`, or Markdown images) disappear from existing stories.

Stories are rendered when saved (story_html), not on every view, so a sanitizer change needs
its stored output redone once; this does it for the rows that have an image at all. It uses
the current renderer on purpose: the point is to make old rows look like new ones.
"""

from django.db import migrations


def rerender_stories_with_images(apps, schema_editor):
    from campaigns.rendering import render_story

    Campaign = apps.get_model("campaigns", "Campaign")
    changed = []
    rows = Campaign.objects.filter(story_html__icontains="<img").only("pk", "story", "story_html")
    for campaign in rows.iterator(chunk_size=500):
        campaign.story_html = render_story(campaign.story)
        changed.append(campaign)
    Campaign.objects.bulk_update(changed, ["story_html"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0003_campaign_review_permissions"),
    ]

    operations = [
        migrations.RunPython(
            rerender_stories_with_images, migrations.RunPython.noop, elidable=True
        ),
    ]
