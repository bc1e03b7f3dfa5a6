import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Roles } from '#libs/auth/index.js';
import { ProvenanceService } from '#libs/workflow/index.js';

@ApiTags('images')
@ApiBearerAuth()
@Controller('api/v1/images')
export class ImagesController {
  constructor(private readonly provenance: ProvenanceService) {}

  @Get(':digest/provenance')
  @Roles('auditor')
  get(@Param('digest') digest: string) {
    return this.provenance.forDigest(digest);
  }
}
