-- A partner's memberships of one status and role, newest first: a partner-wide page filtered by
-- status or role merges a few of these ranges instead of scanning every membership for matches.
CREATE INDEX memberships_by_partner_status ON memberships (partner_id, livemode, status, role, created_at DESC, id DESC);
