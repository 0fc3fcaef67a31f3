-- GET /v1/events, newest first by sequence within a partner and mode: a page is an index range
-- whatever the number of events, unfiltered, by exact type or by organisation.
CREATE INDEX events_list ON events (partner_id, livemode, sequence DESC);
CREATE INDEX events_type ON events (partner_id, livemode, type, sequence DESC);
CREATE INDEX events_organisation ON events (organisation_id, sequence DESC);
