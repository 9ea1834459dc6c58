// The seller side's public face: what the commerce layer and `npm start`'s demo import.

export { Catalogue, ARTICLE_KINDS, isArticleKind } from './catalogue';
export type { Article, ArticleKind, NewArticle, DigitalContent, SearchRequest, SearchPage, SearchSort } from './catalogue';
export { CatalogueError, isCatalogueError } from './errors';
export type { CatalogueErrorCode } from './errors';
export { parseSearch, toFtsMatch } from './search-query';
export { demoArticles, ensureDemoCatalogue, openDemoCatalogue, DEMO_CATALOGUE_SIZE, DEMO_SEED } from './demo-catalogue';
export { CheckoutError, isCheckoutError, paymentNotConnected, checkOrderForm } from './checkout';
export type { Cart, CartLine, BuyerInfo, PostalAddress, CheckoutHandler, CheckoutResult, CheckoutStatus, CheckoutErrorCode, PaymentRequest, ReceiptView, DeliveryNoteView, OrderUpdate, OrderStatusSource } from './checkout';
export { startShop, SESSION_COOKIE } from './shop-server';
export type { ShopOptions, RunningShop } from './shop-server';
export { openVersionedDatabase } from './store';
export type { VersionedSchema } from './store';
