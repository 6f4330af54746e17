import { openKvStore } from "../src/store/kv.ts";
import { storeAdminContract } from "./store_admin_contract.ts";

storeAdminContract("kv", () => openKvStore(":memory:"));
