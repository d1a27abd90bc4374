"""The organizer's workspace: start, edit step by step, preview, submit, launch, cancel"""

from django.http import Http404


def _todo(request, *args, **kwargs):
    raise Http404


start = mine = edit = edit_basics = edit_story = edit_funding = edit_rewards = edit_reward = _todo
delete_reward = edit_budget = delete_budget_item = edit_stretch_goals = delete_stretch_goal = _todo
edit_team = review = preview = submit = launch = cancel = accept_invitation = _todo
