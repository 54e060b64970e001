DROP INDEX `runs_method`;--> statement-breakpoint
DROP INDEX `runs_family`;--> statement-breakpoint
CREATE INDEX `runs_method_synthetic` ON `runs` (`method_id`,`synthetic`);--> statement-breakpoint
CREATE INDEX `runs_family_synthetic` ON `runs` (`family`,`synthetic`);--> statement-breakpoint
CREATE INDEX `runs_runtime_synthetic` ON `runs` (`runtime`,`synthetic`);--> statement-breakpoint
CREATE INDEX `runs_hardware_synthetic` ON `runs` (`hardware_key`,`synthetic`);