//! Black-box HTTP tests. Each test runs twice: `…::sqlite::…` and `…::postgres::…`.

mod accounts;
mod admin;
mod browser;
mod changes;
mod connections;
mod contract;
mod conventions;
mod faults;
mod files;
mod links;
mod longpoll;
mod plugins;
mod sharing;
mod trust;
mod uploads;
mod web;
