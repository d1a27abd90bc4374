"""The quick start's demo data: specs (what the demo holds), covers (drawn pictures), browser
(the card form's half of saving a card), seeding (making it all through the services)."""
