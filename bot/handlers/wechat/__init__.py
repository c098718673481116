"""WeChat Official Account (公众号): messages and events in through `POST /wechat`, passive XML
replies, customer-service and template messages out, the custom menu as data."""
