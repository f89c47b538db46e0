//! Customer-service messages to buyers.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shopops_kernel::error::FieldErrors;
use shopops_kernel::tr;

use super::KsRequest;

/// `open.cs.intelligent.message.send` (POST): messages to a buyer from the seller's
/// assistant. `toUser`/`fromUser` (`{nickName, role, …}`) and the message objects
/// (`{contentType, content}`) are free-form: their keys are sent in the caller's order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CsMessageSend {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_user: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_list: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_list: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generator: Option<i32>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_user: Option<Value>,
}

impl KsRequest for CsMessageSend {
    const METHOD: &'static str = "open.cs.intelligent.message.send";
    type Response = Value;

    fn validate(&self, errors: &mut FieldErrors) {
        if self.message_list.as_ref().is_none_or(|m| m.is_empty()) {
            errors.add("messageList", tr!("至少一条消息", "at least one message"));
        }
    }
}
