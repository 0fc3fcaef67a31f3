-- The orders the dialects list memberships in besides newest first (by when they last changed,
-- by organisation, by user), each within a partner and mode, so a sorted page is an index scan.
CREATE INDEX memberships_by_update ON memberships (partner_id, livemode, updated_at DESC, id DESC);
CREATE INDEX memberships_by_organisation_order ON memberships (partner_id, livemode, organisation_id, created_at DESC, id DESC);
CREATE INDEX memberships_by_user_order ON memberships (partner_id, livemode, user_id, created_at DESC, id DESC);
