//! Identity's domain events: their topics and payloads, as other contexts and outgoing
//! webhooks read them. The JSON of each payload is part of the public contract; a change an
//! existing consumer would misread bumps the topic's version.

use kernel::auth::Role;
use kernel::id::{OrgId, UserId};
use kernel::jobs::{Topic, TopicInfo};
use serde::{Deserialize, Serialize};

/// An account was created (by registration, `backline admin create-user` or the demo loader).
pub const USER_REGISTERED: Topic<UserRegistered> = Topic::new("user.registered", 1);
/// An organization was created; its creator is its first owner.
pub const ORG_CREATED: Topic<OrgCreated> = Topic::new("org.created", 1);
/// Someone became a member: by accepting an invitation, or added directly by operator tooling.
pub const MEMBER_JOINED: Topic<MemberJoined> = Topic::new("member.joined", 1);
/// A member left or was removed.
pub const MEMBER_REMOVED: Topic<MemberRemoved> = Topic::new("member.removed", 1);

/// Every topic identity publishes, for the event catalogue.
pub fn topics() -> Vec<TopicInfo> {
    vec![USER_REGISTERED.info(), ORG_CREATED.info(), MEMBER_JOINED.info(), MEMBER_REMOVED.info()]
}

/// Payload of `user.registered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: UserId,
    /// Normalized (trimmed, lower-case).
    pub email: String,
    /// The display name, trimmed.
    pub name: String,
}

/// Payload of `org.created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgCreated {
    pub org_id: OrgId,
    pub name: String,
    /// The creator, who is the organization's first owner.
    pub created_by: UserId,
}

/// Payload of `member.joined`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberJoined {
    pub org_id: OrgId,
    pub user_id: UserId,
    /// The role the member joined with (`viewer`, `staff`, `admin`, `owner`).
    pub role: Role,
}

/// Payload of `member.removed` (also when the member left on their own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRemoved {
    pub org_id: OrgId,
    pub user_id: UserId,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The payloads were `json!` literals before they were types; their JSON must not change.
    #[test]
    fn payloads_keep_their_json() {
        let (user, org) = (UserId::new(), OrgId::new());
        let registered = UserRegistered { user_id: user, email: "a@b.org".into(), name: "Ann".into() };
        assert_eq!(serde_json::to_value(&registered).unwrap(), json!({ "user_id": user, "email": "a@b.org", "name": "Ann" }));
        let created = OrgCreated { org_id: org, name: "Club".into(), created_by: user };
        assert_eq!(serde_json::to_value(&created).unwrap(), json!({ "org_id": org, "name": "Club", "created_by": user }));
        let joined = MemberJoined { org_id: org, user_id: user, role: Role::Staff };
        assert_eq!(serde_json::to_value(&joined).unwrap(), json!({ "org_id": org, "user_id": user, "role": "staff" }));
        let removed = MemberRemoved { org_id: org, user_id: user };
        assert_eq!(serde_json::to_value(&removed).unwrap(), json!({ "org_id": org, "user_id": user }));
    }

    #[test]
    fn catalogue_lists_every_topic() {
        let names: Vec<&str> = topics().iter().map(|t| t.name).collect();
        assert_eq!(names, ["user.registered", "org.created", "member.joined", "member.removed"]);
    }
}
