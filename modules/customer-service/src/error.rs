//! The customer-service module's error codes (its part of the catalogue, shown in
//! docs/errors.md). Kernel codes (`VALIDATION_ERROR`, `RESOURCE_NOT_FOUND` …) come from
//! `shopops_kernel::error::Code`.

shopops_kernel::error_codes! {
    /// The customer-service module's codes.
    pub enum Code {
        /// `POST /cs/kb/import` with a file that is not CSV, JSONL or XLSX (by its
        /// `format` field, or its name's extension when `format` is absent). Details:
        /// `supported` (`["csv", "jsonl", "xlsx"]`).
        ImportFormatUnsupported = (415, "CS_IMPORT_FORMAT_UNSUPPORTED", "不支持的导入文件格式", "the import file is not CSV, JSONL or XLSX"),
        /// The import file is larger than `cs.import_max_bytes` (default 10 MiB) or has more
        /// rows than `cs.import_max_rows` (default 50 000). Details: `limit_bytes` or
        /// `limit_rows`. Split the file.
        ImportTooLarge = (413, "CS_IMPORT_TOO_LARGE", "导入文件过大", "the import file is too large"),
        /// The import file cannot be read at all (not UTF-8, not a spreadsheet, no header
        /// row naming `question` and `answer`). Details: `reason`. Rows that are wrong one
        /// by one do not fail the import: they are listed in its `errors`.
        ImportUnreadable = (422, "CS_IMPORT_UNREADABLE", "无法读取导入文件", "the import file cannot be read"),
        /// Another reviewer holds the message (a claim lasts `cs.review_claim_secs`, 10
        /// minutes by default). Details: `claimed_by` (user id), `claim_until`.
        ReviewClaimed = (409, "CS_REVIEW_CLAIMED", "该消息正由其他审核员处理", "another reviewer holds this message"),
        /// The message is no longer waiting for review: approved or rejected meanwhile
        /// (by another reviewer), or it never needed one. Details: `status`.
        NotInReview = (409, "CS_NOT_IN_REVIEW", "该消息不在待审核状态", "this message is not waiting for review"),
        /// The reply is not leased to the calling agent (its lease ran out and another
        /// agent took it, or it was never offered to this one): do not type it. Details:
        /// `delivery`.
        LeaseNotHeld = (409, "CS_LEASE_NOT_HELD", "该回复未租借给当前客户端", "this reply is not leased to the calling agent"),
    }
}
