import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Roles } from '#libs/auth/index.js';
import { EnvironmentService } from '#libs/workflow/index.js';
import { ROLE_SETS } from '#libs/domain/index.js';

@ApiTags('environments')
@ApiBearerAuth()
@Controller('api/v1/environments')
export class EnvironmentsController {
  constructor(private readonly environments: EnvironmentService) {}

  @Get()
  @Roles(...ROLE_SETS.readers)
  list() {
    return this.environments.list();
  }
}
