//! Business rules 1–2: an organisation that has other accepted members keeps at least one
//! accepted ADMIN and, once it has one, at least one accepted owner. Storage backends call these
//! inside the write transaction that changes the membership, with a tally read in that same
//! transaction, so concurrent requests cannot both pass.

use crate::{
    Error,
    error::Result,
    model::{MembershipRole, MembershipSettings, MembershipStatus},
};

/// Accepted memberships of the organisation other than the one being changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrgTally {
    pub others: u64,
    pub other_admins: u64,
    pub other_owners: u64,
}

fn is_last_admin(status: MembershipStatus, settings: &MembershipSettings, tally: OrgTally) -> bool {
    status == MembershipStatus::Accepted
        && settings.role == MembershipRole::Admin
        && tally.others > 0
        && tally.other_admins == 0
}

fn is_last_owner(status: MembershipStatus, settings: &MembershipSettings, tally: OrgTally) -> bool {
    status == MembershipStatus::Accepted && settings.is_owner && tally.others > 0 && tally.other_owners == 0
}

pub fn check_delete(status: MembershipStatus, settings: &MembershipSettings, tally: OrgTally) -> Result<()> {
    if is_last_admin(status, settings, tally) {
        return Err(Error::MembershipDeletionForbidden(
            "the last admin of an organisation with other members cannot be removed",
        ));
    }
    if is_last_owner(status, settings, tally) {
        return Err(Error::MembershipDeletionForbidden(
            "the last owner of an organisation with other members cannot be removed",
        ));
    }
    Ok(())
}

/// Staff users operate the partner's platform; they are not members of its organisations
/// (rule 5), so one is never added to an organisation.
pub fn check_new_member(is_staff: bool) -> Result<()> {
    if is_staff {
        return Err(Error::InvalidRequest("staff users cannot be members of an organisation".to_owned()));
    }
    Ok(())
}

/// Whether a change from `before` to `after` could break rule 1 or 2, and so must be checked
/// against the organisation's tally.
pub fn needs_tally(before: &MembershipSettings, after: &MembershipSettings) -> bool {
    let demotes = before.role == MembershipRole::Admin && after.role != MembershipRole::Admin;
    demotes || (before.is_owner && !after.is_owner)
}

/// What a change to a user must respect, read in the transaction that makes it: a user belongs
/// to the partner, so a key scoped to some organisations changes it only when every membership
/// of the user is in that scope (spec §3); and a member cannot be made staff (rule 5).
pub fn check_user_update(memberships_outside_scope: bool, has_memberships: bool, makes_staff: bool) -> Result<()> {
    if memberships_outside_scope {
        return Err(Error::Forbidden);
    }
    if makes_staff && has_memberships {
        return Err(Error::InvalidRequest("a user with memberships cannot be made staff".to_owned()));
    }
    Ok(())
}

/// A partner always keeps an admin group: without one, no key of the partner could manage
/// groups or reach every organisation again. Called before an admin group is deleted or
/// demoted, with whether another admin group exists, read in that same transaction.
pub fn check_admin_group_removal(other_admin_groups: bool) -> Result<()> {
    if !other_admin_groups {
        return Err(Error::InvalidRequest("a partner keeps at least one admin group; this is its last".to_owned()));
    }
    Ok(())
}

pub fn check_update(
    status: MembershipStatus,
    before: &MembershipSettings,
    after: &MembershipSettings,
    tally: OrgTally,
) -> Result<()> {
    if is_last_admin(status, before, tally) && after.role != MembershipRole::Admin {
        return Err(Error::MembershipUpdateForbidden(
            "the last admin of an organisation with other members cannot be demoted",
        ));
    }
    if is_last_owner(status, before, tally) && !after.is_owner {
        return Err(Error::MembershipUpdateForbidden(
            "the last owner of an organisation with other members cannot stop being owner",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCEPTED: MembershipStatus = MembershipStatus::Accepted;

    fn admin() -> MembershipSettings {
        MembershipSettings::new(MembershipRole::Admin)
    }

    fn tally(others: u64, other_admins: u64, other_owners: u64) -> OrgTally {
        OrgTally { others, other_admins, other_owners }
    }

    #[test]
    fn the_last_admin_stays_while_others_remain() {
        assert!(matches!(check_delete(ACCEPTED, &admin(), tally(1, 0, 0)), Err(Error::MembershipDeletionForbidden(_))));
        assert_eq!(check_delete(ACCEPTED, &admin(), tally(0, 0, 0)), Ok(()));
        assert_eq!(check_delete(ACCEPTED, &admin(), tally(2, 1, 0)), Ok(()));
        assert_eq!(check_delete(MembershipStatus::Pending, &admin(), tally(1, 0, 0)), Ok(()));
        let standard = MembershipSettings::new(MembershipRole::Standard);
        assert!(matches!(
            check_update(ACCEPTED, &admin(), &standard, tally(1, 0, 0)),
            Err(Error::MembershipUpdateForbidden(_))
        ));
        assert_eq!(check_update(ACCEPTED, &admin(), &admin(), tally(1, 0, 0)), Ok(()));
    }

    #[test]
    fn the_last_owner_stays_while_others_remain() {
        let owner = MembershipSettings { is_owner: true, ..admin() };
        assert!(matches!(check_delete(ACCEPTED, &owner, tally(1, 1, 0)), Err(Error::MembershipDeletionForbidden(_))));
        assert_eq!(check_delete(ACCEPTED, &owner, tally(1, 1, 1)), Ok(()));
        assert!(matches!(
            check_update(ACCEPTED, &owner, &admin(), tally(1, 1, 0)),
            Err(Error::MembershipUpdateForbidden(_))
        ));
    }
}
