//! Typed calls for a shop: a [`KsRequest`] checked, signed with the shop's token (refreshed
//! when it expired), sent, and its `data` read into the typed answer; and the paged
//! methods as streams.

use futures_util::stream::{Stream, TryStreamExt};
use shopops_kernel::{AppError, AppResult, Kernel};

use crate::client::paging::{cursor_pages, numbered_pages};
use crate::entities::shop;
use crate::platform::{decode, Platform};
use crate::service::shops;
use crate::typed::items::{ItemInfo, ItemList, ItemPage};
use crate::typed::orders::{Order, OrderCursorList};
use crate::typed::{self, CursorPaged, KsRequest};

/// One typed call. A request that fails the SDK's checks is a 422 and is not sent; an
/// answer that does not fit the typed shape is a 502 `KUAISHOU_UNEXPECTED_ANSWER`.
pub async fn execute<R: KsRequest>(
    kernel: &Kernel,
    platform: &Platform,
    shop: &shop::Model,
    request: &R,
) -> AppResult<R::Response> {
    typed::check(request).map_err(AppError::validation)?;
    let param = typed::param_json(request).map_err(AppError::internal)?;
    let data = shops::call(kernel, platform, shop, R::METHOD, param.as_deref()).await?;
    decode::<R::Response>(R::METHOD, &data)
}

/// The pages of a cursor-paged method, following the cursor from where `request`
/// starts until the platform says there are no more.
pub fn pages<'a, R: CursorPaged + 'a>(
    kernel: &'a Kernel,
    platform: &'a Platform,
    shop: &'a shop::Model,
    request: R,
) -> impl Stream<Item = AppResult<R::Response>> + 'a {
    cursor_pages(request.cursor(), move |cursor| {
        let request = request.at_cursor(cursor);
        async move {
            let page = execute(kernel, platform, shop, &request).await?;
            let (items, next) = R::page_info(&page);
            Ok::<_, AppError>((page, items, next))
        }
    })
}

/// Every order of `request`'s window, page after page.
pub fn orders<'a>(
    kernel: &'a Kernel,
    platform: &'a Platform,
    shop: &'a shop::Model,
    request: OrderCursorList,
) -> impl Stream<Item = AppResult<Order>> + 'a {
    pages(kernel, platform, shop, request)
        .map_ok(|page| futures_util::stream::iter(page.order_list.into_iter().map(Ok)))
        .try_flatten()
}

/// Every item of `open.item.list.get`, from `request.page_number` on.
pub fn items<'a>(
    kernel: &'a Kernel,
    platform: &'a Platform,
    shop: &'a shop::Model,
    request: ItemList,
) -> impl Stream<Item = AppResult<ItemInfo>> + 'a {
    let (first, page_size) = (request.page_number, request.page_size as usize);
    numbered_pages(first, page_size, move |page_number| {
        let request = ItemList {
            page_number,
            ..request.clone()
        };
        async move {
            let page: ItemPage = execute(kernel, platform, shop, &request).await?;
            let n = page.items.len();
            Ok::<_, AppError>((page, n))
        }
    })
    .map_ok(|page| futures_util::stream::iter(page.items.into_iter().map(Ok)))
    .try_flatten()
}
