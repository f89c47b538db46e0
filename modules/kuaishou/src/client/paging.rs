//! Paginated methods as `Stream`s of pages, in the platform's two styles: a cursor the
//! platform hands back (`cursor`/`pcursor`, `"nomore"` or empty on the last page), and
//! page numbers (the last page is the first one shorter than the page size).
//!
//! The next page is fetched only when the consumer asks for it, so a consumer that
//! stops early costs no further calls, and an error ends the stream after it is
//! yielded.

use std::future::Future;

use futures_util::stream::{self, Stream};

/// Whether a cursor the platform returned means "no more pages".
pub fn is_last_cursor(cursor: Option<&str>) -> bool {
    cursor.is_none_or(|c| c.is_empty() || c == "nomore")
}

enum Next<S> {
    At(S),
    Done,
}

/// Pages fetched with `fetch(cursor)`, which returns a page, how many items it holds
/// and the next cursor. Starts at `first` (None = the first page). Stops after a page
/// with a last cursor, with no items, or whose cursor repeats the one it was asked
/// with (a platform fault that would otherwise loop forever).
pub fn cursor_pages<P, E, F, Fut>(
    first: Option<String>,
    mut fetch: F,
) -> impl Stream<Item = Result<P, E>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(P, usize, Option<String>), E>>,
{
    stream::unfold(Next::At(first), move |state| {
        let call = match state {
            Next::At(cursor) => Some((cursor.clone(), fetch(cursor))),
            Next::Done => None,
        };
        async move {
            let (asked, call) = call?;
            match call.await {
                Ok((page, items, next)) => {
                    let more = items > 0 && !is_last_cursor(next.as_deref()) && next != asked;
                    Some((Ok(page), if more { Next::At(next) } else { Next::Done }))
                }
                Err(e) => Some((Err(e), Next::Done)),
            }
        }
    })
}

/// Pages fetched with `fetch(page_number)` from `first` on, which returns a page and
/// how many items it holds; stops after the first page shorter than `page_size`.
pub fn numbered_pages<P, E, F, Fut>(
    first: u32,
    page_size: usize,
    mut fetch: F,
) -> impl Stream<Item = Result<P, E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<(P, usize), E>>,
{
    stream::unfold(Next::At(first), move |state| {
        let call = match state {
            Next::At(n) => Some((n, fetch(n))),
            Next::Done => None,
        };
        async move {
            let (n, call) = call?;
            match call.await {
                Ok((page, items)) => {
                    let more = items >= page_size.max(1);
                    Some((Ok(page), if more { Next::At(n + 1) } else { Next::Done }))
                }
                Err(e) => Some((Err(e), Next::Done)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::cell::RefCell;

    #[tokio::test]
    async fn cursor_pages_follow_the_cursor_until_nomore() {
        let asked = RefCell::new(Vec::new());
        let pages: Vec<Result<u32, String>> = cursor_pages(None, |c: Option<String>| {
            asked.borrow_mut().push(c.clone());
            let n: u32 = c.as_deref().map(|c| c.parse().unwrap()).unwrap_or(0);
            async move {
                let next = if n < 2 {
                    (n + 1).to_string()
                } else {
                    "nomore".into()
                };
                Ok((n, 10, Some(next)))
            }
        })
        .collect()
        .await;
        assert_eq!(pages, vec![Ok(0), Ok(1), Ok(2)]);
        assert_eq!(
            *asked.borrow(),
            vec![None, Some("1".to_string()), Some("2".to_string())]
        );
    }

    #[tokio::test]
    async fn a_repeated_cursor_an_empty_page_or_an_error_ends_the_stream() {
        let repeat: Vec<Result<u8, ()>> = cursor_pages(Some("x".into()), |_| async {
            Ok((1, 5, Some("x".to_string())))
        })
        .collect()
        .await;
        assert_eq!(repeat.len(), 1);
        let empty: Vec<Result<u8, ()>> =
            cursor_pages(None, |_| async { Ok((1, 0, Some("more".to_string()))) })
                .collect()
                .await;
        assert_eq!(empty.len(), 1);
        let failed: Vec<Result<u8, &str>> = cursor_pages(None, |_| async { Err("boom") })
            .collect()
            .await;
        assert_eq!(failed, vec![Err("boom")]);
    }

    #[tokio::test]
    async fn numbered_pages_stop_at_the_first_short_page_and_only_when_asked() {
        let calls = RefCell::new(0);
        let sizes = [20usize, 20, 7];
        let mut pages = Box::pin(numbered_pages(1, 20, |n| {
            *calls.borrow_mut() += 1;
            let items = sizes[(n - 1) as usize];
            async move { Ok::<_, ()>((n, items)) }
        }));
        assert_eq!(pages.next().await, Some(Ok(1)));
        assert_eq!(*calls.borrow(), 1, "lazy: page 2 not fetched yet");
        let rest: Vec<_> = pages.collect().await;
        assert_eq!(rest, vec![Ok(2), Ok(3)]);
        assert_eq!(*calls.borrow(), 3);
    }
}
